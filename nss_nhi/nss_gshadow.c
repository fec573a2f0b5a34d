/* nss_gshadow.c - the gshadow database of libnss_nhi.so.2 (nsswitch.conf
 * "gshadow: files nhi"): the groups of the group database, each with
 * group password "!" (newgrp asks for none: members join without one,
 * others cannot), no administrators, and the same visible members.
 * Nothing secret: the snapshot holds no group password.  Read by
 * shadow-utils (grpck, gpasswd, newgrp, sg) through getsgnam(3). */
#include "nss_common.h"

NSS_NHI_ENTRY enum nss_status _nss_nhi_getsgnam_r(const char *name, struct sgrp *sg,
						  char *buf, size_t len, int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_setsgent(int stayopen);
NSS_NHI_ENTRY enum nss_status _nss_nhi_getsgent_r(struct sgrp *sg, char *buf, size_t len,
						  int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_endsgent(void);

static struct nss_nhi_cursor sgcur = NSS_NHI_CURSOR_INIT;

enum nss_status _nss_nhi_getsgnam_r(const char *name, struct sgrp *sg,
				    char *buf, size_t len, int *errnop)
{
	return nss_nhi_group_byname(name, nss_nhi_fill_sgrp, sg, buf, len, errnop);
}

enum nss_status _nss_nhi_setsgent(int stayopen)
{
	(void)stayopen;
	return nss_nhi_setent(&sgcur);
}

enum nss_status _nss_nhi_endsgent(void)
{
	return nss_nhi_endent(&sgcur);
}

enum nss_status _nss_nhi_getsgent_r(struct sgrp *sg, char *buf, size_t len, int *errnop)
{
	return nss_nhi_group_next(&sgcur, nss_nhi_fill_sgrp, sg, buf, len, errnop);
}
