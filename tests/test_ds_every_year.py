"""Designs take DS from one computation over every year of the data, cut to their years (a speed-up
of the demo, whose designs span several year ranges): bit for bit the DS of those years alone, and
the usual error when a year the design needs lacks ages."""

from __future__ import annotations

import numpy as np
import pytest

from geoattr import variables as V
from geoattr.exceptions import InputError


def _ds_alone(data, years):
    return V.demographic_supply(data.population_by_age, data.column("jobs"), data.employment_rates,
                                data.death_probabilities, years=list(range(years[0], years[1] + 1)))


@pytest.mark.parametrize("years", [(2003, 2023), (2010, 2012), (2000, 2001), (2005, 2005)])
def test_design_ds_equals_ds_of_its_years_alone(synthetic_data, years):
    X = V.build_design(synthetic_data, ["ds"], years=years).X
    ref = _ds_alone(synthetic_data, years).reindex(X.index)
    assert np.array_equal(X["ds"].to_numpy(), ref.to_numpy())  # exact: each year's DS uses only its rows
    if years[0] == years[1]:
        return  # a single year is computed alone
    every = synthetic_data.cached(("ds", "every year with jobs"), lambda: None)
    assert every is not None and set(every.index.get_level_values("year")) == set(range(2000, 2024))  # no jobs 2024


def test_a_year_lacking_ages_outside_the_design_does_not_matter_inside_it_does(synthetic_data):
    pa = synthetic_data.population_by_age
    broken = synthetic_data.replace(population_by_age=pa[~((pa["year"] == 2001) & (pa["age"] == 30))])
    X = V.build_design(broken, ["ds"], years=(2010, 2012)).X  # DS of every year fails: the years alone are used
    assert np.array_equal(X["ds"].to_numpy(), _ds_alone(synthetic_data, (2010, 2012)).reindex(X.index).to_numpy())
    with pytest.raises(InputError, match=r"lacks some ages 14-74 for \d+ \(unit, year, sex\) group\(s\): "
                                         r"\('\d{4}', 2001, '(fe)?male'\)"):
        V.build_design(broken, ["ds"], years=(2001, 2003))
