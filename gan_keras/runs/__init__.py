"""The run folder: what `train` writes and every other command reads (a folder, or `pretrained:NAME`).

`folder` (where a run lives, what it holds), `config` (its `config.json` read back), `checkpoints`
(G, D, both optimizers and the epoch; a shipped run's `weights.npz`), `loading` (its generator and
discriminator, its images for scoring), `history` (`history.csv`'s columns), `best` (the best
generator kept by `--eval-every`), `callbacks` (the Keras callbacks that write it), `plots`,
`transfer` (`--init-from`, `--freeze-d`) and `train`, which writes one. See docs/run-folder.md.
"""
