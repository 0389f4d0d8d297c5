"""Publication: tables, figures, web maps, ``report.html`` and one profile page per unit.

Everything here formats results that exist already; nothing is estimated.

* :mod:`geoattr.report.tables`: regression, comparison and ranking tables (LaTeX,
  Markdown, HTML).
* :mod:`geoattr.report.figures`: matplotlib figures.
* :mod:`geoattr.report.maps`: the Leaflet map of attractiveness, residuals and LISA
  clusters.
* :mod:`geoattr.report.html`: the files of a run (tables, figures) and ``report.html``.
* :mod:`geoattr.report.profiles`: the profile pages the map's popups link to.
* :mod:`geoattr.report.forecast`: fan charts and the forecast section of ``report.html``.
* :mod:`geoattr.report.calculator`: the scenario calculator of the profile pages.
"""

from geoattr.report.calculator import calculator_inputs, scenario_effect
from geoattr.report.forecast import fan_chart, fan_chart_svg, forecast_section
from geoattr.report.html import write_figures, write_report, write_tables
from geoattr.report.maps import attractiveness_map, residual_map
from geoattr.report.profiles import profile_file_name, write_profiles
from geoattr.report.tables import comparison_table, ranking_table, regression_table

__all__ = [
    "regression_table",
    "comparison_table",
    "ranking_table",
    "residual_map",
    "attractiveness_map",
    "write_tables",
    "write_figures",
    "write_report",
    "write_profiles",
    "profile_file_name",
    "fan_chart",
    "fan_chart_svg",
    "forecast_section",
    "calculator_inputs",
    "scenario_effect",
]
