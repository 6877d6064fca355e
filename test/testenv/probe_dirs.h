/* What the test-environment probes check of a directory. */
#ifndef PROBE_DIRS_H_
#define PROBE_DIRS_H_

#include <dirent.h>
#include <string.h>

/* The number of entries in dir besides "." and "..", or -1 when it cannot be read. */
static inline int probe_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return entries;
}

#endif /* !PROBE_DIRS_H_ */
