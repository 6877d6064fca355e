*
all units done