# The OpenLDAP schema for backend = ldap (slapd.conf and cn=config forms)
schemadir = $(datadir)/nhi/schema
dist_schema_DATA = schema/nhi.schema schema/nhi.ldif schema/README
EXTRA_DIST += schema/schema2ldif.sh
