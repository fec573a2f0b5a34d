# pam_nhi: rules added by its owner
