/* cmd_label.c - label: change the labels of an identity (through the
 * store's update, as extend and transfer change their fields) or, with
 * --resource, of a resource (cmd_resource.c: resource_label).  Labels
 * (labels.c) mark environments for NHI8: env=prod, env=dev. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "cmd_reach.h"
#include "lifecycle.h"

static const char label_help[] =
	"usage: nhictl label NAME KEY=VALUE|KEY-... [--json]\n"
	"       nhictl label --resource NAME KEY=VALUE|KEY-... [--json]\n"
	"\n"
	"Set (KEY=VALUE) or remove (KEY-) labels of identity NAME or, with\n"
	"--resource, of resource NAME.  Keys and values are a-z 0-9 _ . -, at most\n"
	"63 bytes each; at most 16 labels.  The label env (env=prod, env=dev) is\n"
	"what audit's NHI8-CROSS-ENV compares.\n"
	"\n"
	"  -R, --resource   NAME is a resource\n"
	"      --json       the identity (or resource) as JSON\n";

int cmd_label(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "resource", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char labels[LABELS_BUFSZ], err[256], det[2 * LABELS_BUFSZ + 32], msg[LABELS_BUFSZ + 16];
	struct store_change c = { 0 };
	const char *const *ops;
	const char *name;
	struct ident id;
	int resource = 0, nops, i, r;

	while ((r = getopt_long(argc, argv, ":Rh", opts, NULL)) != -1) {
		switch (r) {
		case 'R': resource = 1; break;
		case 'j': x->json = 1; break;
		case 'h': fputs(label_help, stdout); return EXIT_OK;
		default: return opt_error(x, r, argv);
		}
	}
	if (optind >= argc)
		return nerr(x, EXIT_USAGE, "missing %s name", resource ? "resource" : "identity");
	name = argv[optind];
	ops = (const char *const *)argv + optind + 1;
	nops = argc - optind - 1;
	if (nops == 0)
		return nerr(x, EXIT_USAGE, "missing KEY=VALUE or KEY- (try 'nhictl label --help')");
	for (i = 0; i < nops; i++)
		if (label_check(ops[i], 1, err, sizeof(err)) < 0)
			return nerr(x, EXIT_USAGE, "%s", err);
	if (label_dup(ops, nops, err, sizeof(err)) >= 0)
		return nerr(x, EXIT_USAGE, "%s", err);
	if (resource)
		return resource_label(x, name, ops, nops);
	if (!nhi_valid_name(name))
		return nerr(x, EXIT_USAGE, "invalid identity name '%s'", name);
	if ((r = fetch(x, name, &id)) != 0 || (r = not_retired(x, &id)) != 0)
		return r;
	snprintf(labels, sizeof(labels), "%s", id.labels);
	if (labels_apply(labels, sizeof(labels), ops, nops, err, sizeof(err)) < 0)
		return nerr(x, EXIT_USAGE, "%s", err);
	if (strcmp(labels, id.labels) == 0)
		return unchanged(x, &id, "labels already so");
	c.labels = labels;
	snprintf(det, sizeof(det), "labels %s -> %s", id.labels[0] ? id.labels : "-",
		 labels[0] ? labels : "-");
	snprintf(msg, sizeof(msg), "labels %s", labels[0] ? labels : "none");
	return apply(x, &id, &c, "label", det, msg);
}
