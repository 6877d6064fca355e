Zrun.shí(€€@2the log
8