Z$run.shí(ÿÿÿÿÿÿÿÿÿ2the log
8