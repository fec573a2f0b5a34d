# nhictl: rules added by its owner
