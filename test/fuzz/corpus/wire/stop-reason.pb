*
all units done