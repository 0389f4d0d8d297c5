"""The cohort-component step of a projection, on arrays (units x sex x age).

One year of the projection, for every unit at once: the population on 1 January is
aged by one year, deaths follow the national death probabilities (times the unit's
mortality factor), births follow the national fertility rates applied to the women
on 1 January (times the unit's fertility factor), and the year's net migrants are
added, spread over ages and sexes by fixed shares (:func:`migration_shares`).  With
fixed shares the step is linear in the population and in net migration, so the
effect of one extra migrant on later populations, births and deaths
(:func:`migrant_response`) is the same whenever the migrant arrives: the simulation
uses it to carry each draw's net migration into its population.

Arrays: populations ``P`` have shape ``(N, 2, A)`` (sex 0 female, 1 male; ages 0 to
the open age ``A - 1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FEMALE_BIRTH_SHARE", "Cohort", "CohortStep", "migration_shares", "migrant_response"]

#: Share of girls among births (105 boys per 100 girls).
FEMALE_BIRTH_SHARE = 100.0 / 205.0


@dataclass(frozen=True)
class CohortStep:
    """One projected year: the population on 1 January of the next year, births and deaths during the year."""

    population: np.ndarray
    births: np.ndarray
    deaths: np.ndarray
    clipped: float


@dataclass(frozen=True)
class Cohort:
    """National rates and unit factors of the cohort-component model.

    Attributes
    ----------
    q : numpy.ndarray
        Death probabilities, shape ``(2, A)``.
    fertility : numpy.ndarray
        Births per woman by age of the mother, shape ``(A,)``.
    fertility_factor, mortality_factor : numpy.ndarray
        Per unit, shape ``(N,)``: the unit's births (deaths) relative to what the
        national rates give (1: national rates).
    shares : numpy.ndarray
        Shares of net migration by sex and age, shape ``(N, 2, A)``; each unit's sum is 1.
    """

    q: np.ndarray
    fertility: np.ndarray
    fertility_factor: np.ndarray
    mortality_factor: np.ndarray
    shares: np.ndarray

    def step(self, P: np.ndarray, net_migration: np.ndarray, *, clip: bool = True) -> CohortStep:
        """Project one year.

        Parameters
        ----------
        P : numpy.ndarray
            Population on 1 January, ``(N, 2, A)``.
        net_migration : numpy.ndarray
            Net migrants during the year, ``(N,)``; they enter the population of the
            next 1 January by the shares (their own deaths and births in the year are
            neglected).
        clip : bool, default True
            Set negative cells (more net out-migrants of an age than people) to zero;
            the persons removed are returned in ``clipped``.

        Returns
        -------
        CohortStep
        """
        qk = np.minimum(self.q[None] * self.mortality_factor[:, None, None], 1.0)
        dying = P * qk
        survivors = P - dying
        births = self.fertility_factor * (P[:, 0, :] @ self.fertility)
        sex = np.array([FEMALE_BIRTH_SHARE, 1.0 - FEMALE_BIRTH_SHARE])
        newborn = births[:, None] * sex[None, :]
        infant_deaths = newborn * qk[:, :, 0] / 2.0  # half a year of exposure
        nxt = np.empty_like(P)
        nxt[:, :, 1:] = survivors[:, :, :-1]
        nxt[:, :, -1] += survivors[:, :, -1]
        nxt[:, :, 0] = newborn - infant_deaths
        nxt += net_migration[:, None, None] * self.shares
        clipped = 0.0
        if clip:
            neg = nxt < 0
            if neg.any():
                clipped = float(-nxt[neg].sum())
                nxt[neg] = 0.0
        deaths = dying.sum(axis=(1, 2)) + infant_deaths.sum(axis=1)
        return CohortStep(population=nxt, births=births, deaths=deaths, clipped=clipped)


def migration_shares(group_shares: np.ndarray, group_of_age: np.ndarray, sex_shares: np.ndarray | None,
                     P0: np.ndarray) -> np.ndarray:
    """Shares of net migration by sex and single age.

    A unit's net migration goes to age group *g* by ``group_shares[:, g]``, to sex *s*
    by ``sex_shares[:, s]`` (sex and age independent), and within the group and sex to
    the single ages in proportion to the unit's population ``P0`` there (uniformly
    when that population is zero).  Without ``sex_shares`` a group's share is spread
    over both sexes by their population.

    Parameters
    ----------
    group_shares : numpy.ndarray
        ``(N, G)``, each row summing to 1 (shares may be negative).
    group_of_age : numpy.ndarray
        ``(A,)``: the group of every single age.
    sex_shares : numpy.ndarray or None
        ``(N, 2)`` (female, male), rows summing to 1.
    P0 : numpy.ndarray
        ``(N, 2, A)``, the population the shares within a group follow.

    Returns
    -------
    numpy.ndarray
        ``(N, 2, A)``, each unit summing to 1.
    """
    N, _, A = P0.shape
    G = group_shares.shape[1]
    onehot = np.zeros((A, G))
    onehot[np.arange(A), group_of_age] = 1.0
    size = onehot.sum(axis=0)[group_of_age]
    if sex_shares is None:
        tot = P0.sum(axis=1) @ onehot  # (N, G): population of each group, both sexes
        within = np.where(tot[:, None, group_of_age] > 0, P0 / np.where(tot > 0, tot, 1.0)[:, None, group_of_age],
                          1.0 / (2.0 * size)[None, None, :])
        return group_shares[:, None, group_of_age] * within
    by_sex = P0 @ onehot  # (N, 2, G)
    within = np.where(by_sex[:, :, group_of_age] > 0, P0 / np.where(by_sex > 0, by_sex, 1.0)[:, :, group_of_age],
                      1.0 / size[None, None, :])
    return group_shares[:, None, group_of_age] * sex_shares[:, :, None] * within


def migrant_response(cohort: Cohort, horizon: int) -> dict[str, np.ndarray]:
    """Effect of one extra net migrant on the population, births and deaths of later years.

    The migrant arrives during year *s* (in the population of 1 January *s + 1*);
    ``population[:, k]`` is the extra population on 1 January *s + 1 + k*, and
    ``births[:, k]`` / ``deaths[:, k]`` the extra births and deaths during year
    *s + 1 + k*.  Exact for the linear step (no clipping).

    Parameters
    ----------
    cohort : Cohort
    horizon : int

    Returns
    -------
    dict
        ``population``, ``births``, ``deaths``: each ``(N, horizon)``.
    """
    N = cohort.shares.shape[0]
    P = cohort.shares.copy()
    zero = np.zeros(N)
    pop, births, deaths = np.empty((N, horizon)), np.empty((N, horizon)), np.empty((N, horizon))
    for k in range(horizon):
        pop[:, k] = P.sum(axis=(1, 2))
        st = cohort.step(P, zero, clip=False)
        births[:, k], deaths[:, k] = st.births, st.deaths
        P = st.population
    return {"population": pop, "births": births, "deaths": deaths}
