*
all units done