#ifndef CAIRN_SPAWN_SHIM_H
#define CAIRN_SPAWN_SHIM_H

/// Adds a "close every descriptor from `from` up" action to a posix_spawn file-actions
/// object (glibc's posix_spawn_file_actions_addclosefrom_np, which needs _GNU_SOURCE and so
/// is not visible from Swift). `actions` is a posix_spawn_file_actions_t *. Returns 0 or an
/// errno value.
int cairn_spawn_add_close_from(void *actions, int from);

#endif
