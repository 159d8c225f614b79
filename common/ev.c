/* ev.c: placeholder, being written */
