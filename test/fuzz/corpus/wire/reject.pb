2
wire version 2, expected 1