/* hv_state.c: placeholder, being written */
