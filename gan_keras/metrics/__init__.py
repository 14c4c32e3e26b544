"""Sample-quality metrics, as StyleGAN2-ADA lays them out: the maths in numpy (`distances`: FID, KID,
precision/recall, SWD), the networks that turn images into features (`features`), the conditional
measures (`conditional`), and the registered metrics with `evaluate` (`evaluate`).
"""
