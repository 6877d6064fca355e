*
all units done