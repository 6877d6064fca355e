Z*sub/deeper/data.bin (€€@2the log
8