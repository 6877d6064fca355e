Za
b (€€@2the log
8