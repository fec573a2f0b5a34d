# nhictl: the command-line tool, the only writer of the registry and snapshot
sbin_PROGRAMS += nhictl/nhictl
nhictl_nhictl_SOURCES = \
	nhictl/nhictl.c nhictl/nhictl.h nhictl/util.c nhictl/usage.c \
	nhictl/registry.c nhictl/ident.c nhictl/json.c \
	nhictl/cmd_ident.c nhictl/cmd_list.c nhictl/cmd_check.c nhictl/cmd_config.c \
	nhictl/reach.c nhictl/reach.h nhictl/home.c \
	nhictl/cred.c nhictl/cmd_cred.c \
	nhictl/cmd_log.c nhictl/cmd_group.c nhictl/cmd_audit.c \
	nhictl/ldap.c nhictl/ldap.h nhictl/ldap_escape.c nhictl/cmd_directory.c \
	nhictl/dirmap.h nhictl/dirmap.c nhictl/dirwrite.h nhictl/dirwrite.c \
	nhictl/dircred.h nhictl/dircred.c \
	nhictl/secret.c nhictl/secret.h \
	nhictl/regstate.c nhictl/cmd_backup.c \
	nhictl/store.h nhictl/store.c nhictl/store_local.c nhictl/store_ldap.c
# backend = ldap: the registry side of nhictl/dirmap.h, and sync
nhictl_nhictl_SOURCES += nhictl/dirstore.c nhictl/cmd_sync.c
nhictl_nhictl_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS) $(CRYPT_CFLAGS) $(LDAP_CFLAGS)
nhictl_nhictl_LDADD = lib/libnhiadmin.la lib/libnhikeys.la lib/libnhi.la $(SQLITE_LIBS) $(CRYPTO_LIBS) $(CRYPT_LIBS) $(LDAP_LIBS)

# sshd's AuthorizedKeysCommand: the keys without nhictl's libraries
sbin_PROGRAMS += nhictl/nhi-authorized-keys
nhictl_nhi_authorized_keys_SOURCES = nhictl/nhi-authorized-keys.c
nhictl_nhi_authorized_keys_LDADD = lib/libnhikeys.la lib/libnhi.la
