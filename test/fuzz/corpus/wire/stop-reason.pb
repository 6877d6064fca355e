*
all units done