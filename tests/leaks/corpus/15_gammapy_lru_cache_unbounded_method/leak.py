"""A map geometry whose coordinate arrays are cached with lru_cache(maxsize=None).

Rebuilt from gammapy/gammapy#2524: ``WcsGeom`` decorated methods returning big
coordinate arrays with ``functools.lru_cache(maxsize=None)``. The cache is per
class, not per instance, and its keys hold ``self``, so every geometry made
during data reduction stayed alive with its arrays after it went out of scope;
the maps_3d benchmark showed memory climbing run after run.
"""

import functools
import itertools

import numpy as np


class WcsGeom:
    def __init__(self, npix, binsz, skydir):
        self.npix = npix
        self.binsz = binsz
        self.skydir = skydir

    @functools.lru_cache(maxsize=None)
    def get_coord(self):
        idx = np.arange(self.npix[0] * self.npix[1], dtype=float)
        lon = self.skydir[0] + (idx % self.npix[0] - self.npix[0] / 2) * self.binsz
        lat = self.skydir[1] + (idx // self.npix[0] - self.npix[1] / 2) * self.binsz
        return lon.reshape(self.npix), lat.reshape(self.npix)

    def solid_angle(self):
        lon, lat = self.get_coord()
        return np.cos(np.radians(lat)) * np.radians(self.binsz) ** 2


_observations = itertools.count()


def request(i):
    """Reduce one observation: a cutout geometry around its pointing."""
    n = next(_observations)
    geom = WcsGeom(npix=(40, 40), binsz=0.02, skydir=(83.63 + n * 1e-3, 22.01))
    return float(geom.solid_angle().sum())


def main(requests=300):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"reduced observations; geometries cached: {WcsGeom.get_coord.cache_info().currsize}")
