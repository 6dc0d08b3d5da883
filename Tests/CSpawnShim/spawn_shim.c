#define _GNU_SOURCE
#include <spawn.h>
#include "spawn_shim.h"

int cairn_spawn_add_close_from(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}
