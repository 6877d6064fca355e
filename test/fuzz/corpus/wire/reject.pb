2
wire version 3, expected 2