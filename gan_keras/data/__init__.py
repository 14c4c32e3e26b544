"""Images in, batches out: the named datasets (`sources/`, one module each, fetched by `download`),
folders of images and `.npz` files with their decode cache (`folders`), one loader for all of them
(`load`), and the `tf.data` pipeline that serves float32 batches in [-1, 1] (`pipeline`).

Named sets are read from the data directory (`data_dir`, else `$GAN_KERAS_DATA_DIR`, else
`./data`), and downloaded there first when absent.
"""
