Z'../../etc/passwd (€€@2the log
8