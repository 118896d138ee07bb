/* Reads `A<TAB>B` lines; prints apk_version_compare_blob (apk-tools 2.14) or apk_version_compare (3.x, rename the call) and both validities. Built against the cited src/version.c: see SOURCES.md. */
#include <stdio.h>
#include <string.h>
#include "apk_defines.h"
#include "apk_version.h"
int main(void) {
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t'); if (!tab) continue; *tab = 0;
        int r = apk_version_compare_blob(APK_BLOB_STR(line), APK_BLOB_STR(tab + 1));
        int va = apk_version_validate(APK_BLOB_STR(line)), vb = apk_version_validate(APK_BLOB_STR(tab + 1));
        printf("%s\t%d\t%d\n", r == APK_VERSION_LESS ? "<" : r == APK_VERSION_GREATER ? ">" : r == APK_VERSION_EQUAL ? "=" : "?", va, vb);
    }
    return 0;
}
