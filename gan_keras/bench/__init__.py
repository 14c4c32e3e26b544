"""`python -m gan_keras bench`: the training step timed (`training_step`), and where its time goes
(`profiling`)."""
