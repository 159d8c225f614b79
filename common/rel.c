/* rel.c: placeholder, being written */
