#!/bin/sh
# schema2ldif.sh - make nhi.ldif (cn=config) from nhi.schema (slapd.conf).
# Usage: schema/schema2ldif.sh schema/nhi.schema > schema/nhi.ldif
# tests/test-ldap-schema.sh checks that the shipped nhi.ldif is current.
set -eu
in=${1:-nhi.schema}
awk '
BEGIN { head = 1 }
/^#/ {
	if (head) print
	next
}
/^[ \t]*$/ {
	if (head) {
		head = 0
		print "#"
		print "# Generated from nhi.schema by schema2ldif.sh: edit nhi.schema."
		print "# Load into a running slapd: ldapadd -Y EXTERNAL -H ldapi:/// -f nhi.ldif"
		print "dn: cn=nhi,cn=schema,cn=config"
		print "objectClass: olcSchemaConfig"
		print "cn: nhi"
	}
	next
}
/^attributetype[ \t]/ { sub(/^attributetype[ \t]+/, "olcAttributeTypes: "); print; next }
/^objectclass[ \t]/   { sub(/^objectclass[ \t]+/, "olcObjectClasses: "); print; next }
/^[ \t]/ { sub(/^[ \t]+/, "  "); print; next }
{ print "schema2ldif: cannot convert: " $0 > "/dev/stderr"; exit 1 }
' "$in"
