# fuzz/: libFuzzer harnesses of the parsers and readers (docs/fuzzing.md).
# `make fuzz` builds them with clang (-fsanitize=fuzzer,address,undefined)
# when configure found one that links libFuzzer; each harness compiles the
# sources it tests itself (the library is built with CC, maybe gcc).
# `make fuzz-smoke` runs each over its corpus briefly (CI);
# scripts/fuzz.sh long [SECONDS] runs them long.
FUZZ_NAMES = snapshot delta conf time ldap-escape keys token dirmap applyfile
FUZZ_LIB = lib/nhi_err.c lib/nhi_conf.c lib/nhi_time.c lib/nhi_hash.c \
	lib/nhi_snapshot.c lib/nhi_policy.c lib/nhi_pwhash.c
FUZZ_ADMIN = lib/nhi_snapwrite.c lib/nhi_file.c
FUZZ_NSS = nss_nhi/nss_common.c nss_nhi/nss_passwd.c nss_nhi/nss_group.c \
	nss_nhi/nss_shadow.c nss_nhi/nss_initgroups.c
fuzz_snapshot_SRCS = fuzz/fuzz-snapshot.c $(FUZZ_LIB) $(FUZZ_ADMIN) $(FUZZ_NSS)
fuzz_delta_SRCS = fuzz/fuzz-delta.c $(FUZZ_LIB) $(FUZZ_ADMIN) $(FUZZ_NSS)
fuzz_conf_SRCS = fuzz/fuzz-conf.c $(FUZZ_LIB)
fuzz_time_SRCS = fuzz/fuzz-time.c $(FUZZ_LIB)
fuzz_ldap_escape_SRCS = fuzz/fuzz-ldap-escape.c nhictl/ldap/ldap_escape.c $(FUZZ_LIB)
fuzz_ldap_escape_LIBS = $(LDAP_LIBS)
fuzz_keys_SRCS = fuzz/fuzz-keys.c lib/nhi_keys.c $(FUZZ_LIB) $(FUZZ_ADMIN)
fuzz_token_SRCS = fuzz/fuzz-token.c nhictl/util/secret.c $(FUZZ_LIB) $(FUZZ_ADMIN)
fuzz_token_LIBS = $(CRYPTO_LIBS) $(CRYPT_LIBS)
fuzz_dirmap_SRCS = fuzz/fuzz-dirmap.c nhictl/ldap/dirmap.c nhictl/ldap/ldap.c nhictl/ldap/ldap_escape.c \
	nhictl/util/labels.c nhictl/util/json.c \
	$(FUZZ_LIB)
fuzz_applyfile_SRCS = fuzz/fuzz-applyfile.c nhictl/util/applyfile.c
fuzz_applyfile_LIBS = $(YAML_LIBS)
fuzz_mkseeds_SRCS = fuzz/mkseeds.c $(FUZZ_LIB) $(FUZZ_ADMIN)
FUZZ_HDRS = fuzz/fuzz.h fuzz/fuzz-lookups.h
FUZZ_PROGS = $(FUZZ_NAMES:%=fuzz/fuzz-%)

EXTRA_DIST += fuzz/fuzz-snapshot.c fuzz/fuzz-delta.c fuzz/fuzz-conf.c fuzz/fuzz-time.c \
	fuzz/fuzz-ldap-escape.c fuzz/fuzz-keys.c fuzz/fuzz-token.c fuzz/fuzz-dirmap.c fuzz/fuzz-applyfile.c fuzz/mkseeds.c \
	$(FUZZ_HDRS) fuzz/corpus scripts/fuzz.sh docs/fuzzing.md
CLEANFILES += $(FUZZ_PROGS) fuzz/mkseeds
# what scripts/fuzz.sh keeps in the build tree (new inputs, crashes, logs)
clean-local: fuzz-clean-local
fuzz-clean-local:
	rm -rf fuzz/work
.PHONY: fuzz-clean-local

FUZZ_CFLAGS = -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	$(WARN_CFLAGS) $(AM_CPPFLAGS) $(NHICTL_INC) -I$(top_srcdir)/fuzz
# The rules compile every .c prerequisite (found through VPATH) into one program.
FUZZ_LINK = @$(MKDIR_P) fuzz; echo "  FUZZ     $@"; \
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^)

if FUZZ
fuzz: $(FUZZ_PROGS)
fuzz/fuzz-snapshot: $(fuzz_snapshot_SRCS) $(FUZZ_HDRS)
	$(FUZZ_LINK)
fuzz/fuzz-delta: $(fuzz_delta_SRCS) $(FUZZ_HDRS)
	$(FUZZ_LINK)
fuzz/fuzz-conf: $(fuzz_conf_SRCS) $(FUZZ_HDRS)
	$(FUZZ_LINK)
fuzz/fuzz-time: $(fuzz_time_SRCS) $(FUZZ_HDRS)
	$(FUZZ_LINK)
fuzz/fuzz-ldap-escape: $(fuzz_ldap_escape_SRCS) $(FUZZ_HDRS)
	$(FUZZ_LINK) $(LDAP_CFLAGS) $(fuzz_ldap_escape_LIBS)
fuzz/fuzz-keys: $(fuzz_keys_SRCS) $(FUZZ_HDRS)
	$(FUZZ_LINK)
fuzz/fuzz-token: $(fuzz_token_SRCS) $(FUZZ_HDRS)
	$(FUZZ_LINK) $(CRYPTO_CFLAGS) $(fuzz_token_LIBS)
fuzz/fuzz-dirmap: $(fuzz_dirmap_SRCS) $(FUZZ_HDRS)
	$(FUZZ_LINK) $(LDAP_CFLAGS) $(SQLITE_CFLAGS) $(LDAP_LIBS)
fuzz/fuzz-applyfile: $(fuzz_applyfile_SRCS) $(FUZZ_HDRS)
	$(FUZZ_LINK) $(YAML_CFLAGS) $(fuzz_applyfile_LIBS)
# the seed snapshots of fuzz/corpus (made with lib's writer; `make fuzz-seeds`)
fuzz/mkseeds: $(fuzz_mkseeds_SRCS) $(FUZZ_HDRS)
	@$(MKDIR_P) fuzz; echo "  FUZZ     $@"; \
	$(FUZZ_CC) $(filter-out -fsanitize=fuzzer%,$(FUZZ_CFLAGS)) -fsanitize=address,undefined \
		-o $@ $(filter %.c,$^)
fuzz-seeds: fuzz/mkseeds
	fuzz/mkseeds $(srcdir)/fuzz/corpus
fuzz-smoke: fuzz
	FUZZ_BIN='$(abs_top_builddir)/fuzz' FUZZ_CORPUS='$(abs_top_srcdir)/fuzz/corpus' \
		bash $(srcdir)/scripts/fuzz.sh smoke
fuzz-long: fuzz
	FUZZ_BIN='$(abs_top_builddir)/fuzz' FUZZ_CORPUS='$(abs_top_srcdir)/fuzz/corpus' \
		bash $(srcdir)/scripts/fuzz.sh long $(FUZZ_SECONDS)
else
fuzz fuzz-seeds fuzz-smoke fuzz-long:
	@echo "# fuzz: skipped: configure found no clang that links -fsanitize=fuzzer (docs/fuzzing.md)"
endif
.PHONY: fuzz fuzz-seeds fuzz-smoke fuzz-long
