"""Forecasts and scenarios: the attractiveness model's third purpose.

:func:`forecast` projects net migration and population of every unit with a
cohort-component model driven by the fitted attractiveness model, with simulation
intervals, job-change scenarios and a backtest against naive benchmarks
(``docs/forecasting.rst``).  The modules: :mod:`~geoattr.forecast.launch` (the
starting point), :mod:`~geoattr.forecast.profile` (age profiles, vital factors),
:mod:`~geoattr.forecast.cohort` (the cohort-component step),
:mod:`~geoattr.forecast.projection`, :mod:`~geoattr.forecast.simulate`,
:mod:`~geoattr.forecast.scenario`, :mod:`~geoattr.forecast.backtest`,
:mod:`~geoattr.forecast.results` and :mod:`~geoattr.forecast.api`.
"""

from geoattr.forecast.api import commuting_shares, forecast, observed_history
from geoattr.forecast.backtest import backtest
from geoattr.forecast.results import ForecastResults

# classes are documented on their own module's page (Launch, Scenario: launch, scenario)
__all__ = ["forecast", "ForecastResults", "backtest", "commuting_shares", "observed_history"]

# The class's public home is this package (as pickle and the API reference name it):
# geoattr.ForecastResults and geoattr.forecast.ForecastResults are one object.
ForecastResults.__module__ = __name__
