"""An explorer for the notebook: one slider per direction, plus truncation and seed (a class for a
conditional run, a layer range for a style-based one), each redrawing the face through the same
functions the command line uses (`directions.edit_latents`, `latent.render`).

The state and the drawing are plain Python (`Explorer.set`, `Explorer.image`), so tests drive the
callbacks without a browser; `Explorer.widget()` wraps them in ipywidgets.

Example (in a notebook):
    >>> from gan_keras.tools.directions import sefa
    >>> from gan_keras.runs.loading import load_generator
    >>> G = load_generator("pretrained:anime64")
    >>> explorer = Explorer(G, sefa(G, k=6))
    >>> widget = explorer.widget()                      # sliders and the face: show it as a cell's last line
    >>> explorer.set(amounts={0: 2.0}).image().shape    # the same without widgets
    (64, 64, 3)
"""

import io

import numpy as np

from gan_keras import registry

LAYER_CHOICES = ("all", *registry.names("layers"))  # "all", or one declared style layer group


class Explorer:
    """Edits of one latent along `found` directions (a `directions.Directions`), drawn on demand."""

    def __init__(self, generator, found, latent=None, label=None, sliders=6, seed=0, scale=4):
        from gan_keras.networks.build import num_classes
        from gan_keras.tools import latent as lat

        self.generator, self.found = generator, found
        self.sliders = min(sliders, len(found))
        self.classes = num_classes(generator)
        self.style_based = lat.is_style_based(generator)
        self.label = (0 if label is None else int(label)) if self.classes else None
        self.own = None if latent is None else np.asarray(latent, np.float32)
        self.seed = None if latent is not None else seed
        self.truncation, self.layers, self.scale = 1.0, "all", scale
        self.amounts = np.zeros(self.sliders, np.float32)
        self._centre = None

    def base(self):
        """The latent before the sliders: your image's, or the seed's random one, truncated by psi."""
        from gan_keras.tools import latent as lat

        labels = None if self.label is None else np.array([self.label])
        if self.seed is None:
            base = self.own
        else:
            base = lat.random_latents(self.generator, 1, seed=self.seed, space=self.found.space, labels=labels)[0]
        if self.truncation == 1.0:
            return base
        if self.found.space == "z":
            return base * self.truncation
        if self._centre is None:
            self._centre = lat.mean_w(self.generator, labels=self.label)
        return lat.truncate(base, self._centre, self.truncation)

    def latent(self):
        """(latent, space) with every slider applied (on the chosen layers of a style-based generator)."""
        from gan_keras.tools import latent as lat
        from gan_keras.tools.edit import edit_latents

        current, space = self.base()[None], self.found.space
        layers = None if self.layers == "all" else self.layers
        num_ws = lat.num_ws(self.generator) if self.style_based else None
        for i, amount in enumerate(self.amounts):
            if amount:
                current, space = edit_latents(current, space, self.found.vectors[i], self.found.std[i], [amount],
                                              layers=layers if space != "z" else None, num_ws=num_ws)
        return current[0], space

    def image(self):
        """The current face, float32 in [-1, 1] (H, W, C)."""
        from gan_keras.tools import latent as lat

        current, space = self.latent()
        labels = None if self.label is None or space != "z" else np.array([self.label])
        return lat.render(self.generator, current[None], space, labels)[0]

    def set(self, amounts=None, seed=None, truncation=None, label=None, layers=None):
        """Change the state as a slider would (amounts: {direction index: standard deviations});
        returns self."""
        if amounts:
            for index, value in amounts.items():
                self.amounts[index] = value
        if seed is not None:
            self.seed = None if seed < 0 and self.own is not None else max(0, seed)
        if truncation is not None:
            self.truncation = float(truncation)
        if label is not None and self.classes:
            self.label, self._centre = int(label), None
        if layers is not None:
            if layers not in LAYER_CHOICES:
                raise ValueError(f"layers is one of {', '.join(LAYER_CHOICES)}, got {layers!r}")
            self.layers = layers
        return self

    def png(self):
        """The current face as PNG bytes, enlarged `scale` times (nearest neighbour)."""
        from PIL import Image

        from gan_keras.images import to_uint8

        array = to_uint8(self.image())
        array = array.repeat(self.scale, 0).repeat(self.scale, 1)
        buffer = io.BytesIO()
        Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(buffer, format="PNG")
        return buffer.getvalue()

    def widget(self):
        """The sliders and the face as ipywidgets; `self.controls` names each control."""
        import ipywidgets as widgets

        picture = widgets.Image(value=self.png(), format="png")
        names = self.found.names or [f"{self.found.method} {i}" for i in range(len(self.found))]
        controls = {f"direction {i}": widgets.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.25,
                                                          description=str(names[i])[:16])
                    for i in range(self.sliders)}
        controls["truncation"] = widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="truncation")
        controls["seed"] = widgets.IntSlider(value=-1 if self.seed is None else self.seed,
                                             min=-1 if self.own is not None else 0, max=999,
                                             description="seed (-1: yours)" if self.own is not None else "seed")
        if self.classes:
            controls["class"] = widgets.Dropdown(options=list(range(self.classes)), value=self.label,
                                                 description="class")
        if self.style_based:
            controls["layers"] = widgets.Dropdown(options=list(LAYER_CHOICES), value="all", description="layers")

        def changed(name):
            def redraw(change):
                value = change["new"]
                if name.startswith("direction "):
                    self.set(amounts={int(name.split()[1]): value})
                else:
                    self.set(**{{"class": "label"}.get(name, name): value})
                picture.value = self.png()

            return redraw

        for name, control in controls.items():
            control.observe(changed(name), names="value")
        self.controls, self.picture = controls, picture
        return widgets.HBox([picture, widgets.VBox(list(controls.values()))])
