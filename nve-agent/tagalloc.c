/* tagalloc.c: placeholder, being written */
