# nhictl: the command-line tool, the only writer of the registry and snapshot.
# One folder per layer; calls go down only (HACKING.md):
#   nhictl.c     main() and the verb table
#   cmd/         the verbs, one family per file
#   store/       the store interface and its two backends
#   registry/    registry.db: rows, transactions, audit log, publishing
#   ldap/        the directory: connection, escaping, mapping (no SQLite)
#   util/        messages, JSON, secrets, the host (homes, processes)
# registry/ and ldap/ are also linked alone into test programs
# (tests/layers.mk), so a call upward breaks the build.
# -iquote: "ldap.h" is ours (ldap/), <ldap.h> OpenLDAP's
NHICTL_INC = -iquote $(top_srcdir)/nhictl -iquote $(top_srcdir)/nhictl/util \
	-iquote $(top_srcdir)/nhictl/registry -iquote $(top_srcdir)/nhictl/ldap \
	-iquote $(top_srcdir)/nhictl/store -iquote $(top_srcdir)/nhictl/cmd
NHICTL_UTIL = nhictl/nhictl.h nhictl/util/util.h nhictl/util/util.c nhictl/util/json.c \
	nhictl/util/model.h nhictl/util/model.c nhictl/util/proc.c \
	nhictl/util/secret.c nhictl/util/secret.h nhictl/util/home.c \
	nhictl/util/reach.c nhictl/util/reach.h nhictl/util/discover.c nhictl/util/discover.h \
	nhictl/util/labels.c
# the file of nhictl apply (libyaml): linked into nhictl only
NHICTL_APPLYFILE = nhictl/util/applyfile.h nhictl/util/applyfile.c
NHICTL_REGISTRY = nhictl/registry/registry.h nhictl/registry/internal.h nhictl/registry/db.c \
	nhictl/registry/schema.c nhictl/registry/audit.c nhictl/registry/verify.c \
	nhictl/registry/publish.c nhictl/registry/regstate.c \
	nhictl/registry/ident.c nhictl/registry/cred.c nhictl/registry/usage.c \
	nhictl/registry/intent.c \
	nhictl/registry/access.h nhictl/registry/access.c \
	nhictl/registry/snapdeleg.c \
	nhictl/registry/chain.c nhictl/registry/chain.h
NHICTL_LDAP = nhictl/ldap/ldap.c nhictl/ldap/ldap.h nhictl/ldap/ldap_escape.c \
	nhictl/ldap/dirmap.h nhictl/ldap/dirmap.c nhictl/ldap/dirwrite.h nhictl/ldap/dirwrite.c \
	nhictl/ldap/diralloc.h nhictl/ldap/diralloc.c \
	nhictl/ldap/dircred.h nhictl/ldap/dircred.c nhictl/ldap/diraccess.h nhictl/ldap/diraccess.c \
	nhictl/ldap/ldapdl.h nhictl/ldap/ldapdl.c nhictl/ldap/dirsettle.h nhictl/ldap/dirsettle.c
NHICTL_STORE = nhictl/store/store.h nhictl/store/select.c nhictl/store/store.c nhictl/store/store_local.c \
	nhictl/store/store_ldap.c nhictl/store/dirstore.h nhictl/store/dirstore.c nhictl/store/upkeep.c \
	nhictl/store/store_local_access.c \
	nhictl/store/dirstore_access.h nhictl/store/dirstore_access.c \
	nhictl/store/store_ldap_access.h nhictl/store/store_ldap_access.c
NHICTL_CMD = nhictl/cmd/cmd.h nhictl/cmd/common.c nhictl/cmd/credgen.c nhictl/cmd/lifecycle.h nhictl/cmd/lifecycle.c nhictl/cmd/cmd_joiner.c nhictl/cmd/cmd_mover.c nhictl/cmd/cmd_leaver.c nhictl/cmd/cmd_list.c nhictl/cmd/cmd_check.c \
	nhictl/cmd/cmd_config.c nhictl/cmd/cmd_cred.c nhictl/cmd/cmd_log.c \
	nhictl/cmd/cmd_group.c nhictl/cmd/cmd_audit.c nhictl/cmd/cmd_directory.c \
	nhictl/cmd/cmd_backup.c nhictl/cmd/cmd_sync.c \
	nhictl/cmd/cmd_reach.h nhictl/cmd/reach_args.c nhictl/cmd/cmd_resource.c nhictl/cmd/cmd_grant.c \
	nhictl/cmd/cmd_chain.c nhictl/cmd/cmd_graph.c nhictl/cmd/cmd_label.c nhictl/cmd/audit_env.c \
	nhictl/cmd/finding.h nhictl/cmd/finding.c nhictl/cmd/audit_checks.h \
	nhictl/cmd/audit_usage.c nhictl/cmd/cmd_review_due.c \
	nhictl/cmd/cmd_discover.c \
	nhictl/cmd/audit_registry.c nhictl/cmd/cmd_apply.c nhictl/cmd/cmd_report.c

sbin_PROGRAMS += nhictl/nhictl
nhictl_nhictl_SOURCES = nhictl/nhictl.c $(NHICTL_CMD) $(NHICTL_STORE) \
	$(NHICTL_REGISTRY) $(NHICTL_LDAP) $(NHICTL_UTIL) $(NHICTL_APPLYFILE)
# libldap is not linked: loaded when the directory is first used (ldapdl.h)
nhictl_nhictl_CFLAGS = $(AM_CFLAGS) $(NHICTL_INC) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS) $(CRYPT_CFLAGS) $(LDAP_CFLAGS) $(YAML_CFLAGS) \
	-DNHI_LDAP_DLOPEN
nhictl_nhictl_LDADD = lib/libnhiadmin.la lib/libnhikeys.la lib/libnhi.la $(SQLITE_LIBS) $(CRYPTO_LIBS) $(CRYPT_LIBS) $(YAML_LIBS)

# sshd's AuthorizedKeysCommand: the keys without nhictl's libraries
sbin_PROGRAMS += nhictl/nhi-authorized-keys
nhictl_nhi_authorized_keys_SOURCES = nhictl/nhi-authorized-keys.c
nhictl_nhi_authorized_keys_LDADD = lib/libnhikeys.la lib/libnhi.la
