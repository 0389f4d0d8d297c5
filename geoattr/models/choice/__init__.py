r"""Migration choice: stay, move within the country or emigrate (individual level).

A multinomial logit of the outcome of a person-year, one of ``stay`` (the base
outcome), ``domestic`` (moved to another municipality) and ``emigration``, on the
person's background group interacted with the centrality class of the home
municipality, controlling for age, sex, education, labour-market status and family
situation (MODEL.md, "Migration choice").  The numerical engine is
:class:`statsmodels.discrete.discrete_model.MNLogit`; geoattr builds the design,
validates the input, checks for separation, and turns the results into labelled
tables, predicted probabilities with intervals, Wald tests of user-stated linear
restrictions and a figure.

**The model.** For person-year :math:`i` with covariates :math:`x_i` and outcome :math:`j`,

.. math::

    P(y_i = j) = \frac{\exp(x_i'\beta_j)}{\sum_{k} \exp(x_i'\beta_k)}, \qquad \beta_{stay} = 0,

so each non-base outcome has its own *equation* (``domestic``, ``emigration``) and
:math:`\exp(\beta_{j,t})` is the relative risk ratio (RRR): the factor by which
:math:`P(j)/P(stay)` changes when dummy :math:`t` switches from 0 to 1.

**The design (formula-free, treatment coding).** Every categorical variable is coded
as 0/1 dummies for its non-reference categories; the reference category of each variable is
explicit in :class:`ChoiceSpec` (and in ``[model.reference]`` of the configuration).
With the default specification the terms are, in this order:

* ``const``: the reference person (rest of the population, centrality class 5-6,
  aged 40-49, male, upper secondary education, employed, single);
* ``immigrant``, ``born_to_immigrants``: background group (reference ``rest``; the
  second are the native-born to immigrant parents);
* ``centrality_1`` ... ``centrality_4``: SSB centrality class of the home
  municipality, 1 (most central) to 6; classes 5 and 6 merged into ``5_6``, the
  reference;
* ``immigrant:centrality_1`` ... ``born_to_immigrants:centrality_4``: background x
  centrality interactions (non-reference categories only), so ``immigrant:centrality_1``
  is the difference in the immigrant-vs-rest log-odds between class 1 and class 5-6;
* ``age_18_24``, ``age_25_29``, ``age_30_39``, ``age_50_66``, ``age_67_plus``: age
  groups from ``age_breaks`` (reference ``40_49``); or ``age`` and ``age_sq`` with
  ``age="quadratic"``, where ``age = (years - 40) / 10``;
* ``sex_female`` (reference ``male``);
* ``education_compulsory``, ``education_higher_short`` (up to 4 years),
  ``education_higher_long`` (reference ``upper_secondary``);
* ``labour_unemployed``, ``labour_student``, ``labour_outside`` (outside the labour
  force; reference ``employed``);
* ``family_couple_no_children``, ``family_couple_children``,
  ``family_single_parent`` (reference ``single``).

**Statistics.**

* Standard errors come from the inverse of the observed information (the negative
  Hessian of the log-likelihood at the estimate), as statsmodels computes them; 95 %
  intervals are ``params +- 1.96 std_errors``, and RRR intervals are their exponentials.
* ``rsquared`` is McFadden's pseudo R², :math:`1 - \ell(\hat\beta) / \ell_0`, where
  :math:`\ell_0 = \sum_j n_j \log(n_j / n)` is the log-likelihood of the model with
  constants only (computed in closed form instead of refitting).
* Hypotheses are Wald tests :math:`W = (R\hat\beta - q)'(R V R')^{-1}(R\hat\beta - q)`,
  chi-square with ``rank(R)`` degrees of freedom, computed by statsmodels'
  ``wald_test``; the restriction syntax is described in :func:`parse_hypothesis`.
* Predicted probabilities get intervals either by the delta method on the logit
  scale of each probability (``method="delta"``, the default; the interval is mapped
  back, so it stays inside (0, 1)) or by parametric simulation, drawing
  coefficients from :math:`N(\hat\beta, V)` with a seeded generator and taking
  percentiles (``method="simulation"``).
* The likelihood is evaluated on the distinct covariate patterns with their outcome
  counts (the same likelihood as on the person-years; see :func:`fit_design`).

**Modules.** :mod:`~geoattr.models.choice.spec` (:class:`Factor`, :class:`ChoiceSpec`),
:mod:`~geoattr.models.choice.design` (:func:`build_design`, :func:`separation_report`),
:mod:`~geoattr.models.choice.estimation` (:func:`fit_design`, :func:`fit_choice`),
:mod:`~geoattr.models.choice.hypotheses` (:func:`parse_hypothesis`),
:mod:`~geoattr.models.choice.predictions`, :mod:`~geoattr.models.choice.results`
(:class:`ChoiceResults`), :mod:`~geoattr.models.choice.plot`
(:func:`plot_choice_probabilities`), :mod:`~geoattr.models.choice.config` and
:mod:`~geoattr.models.choice.run` (the ``geoattr choice`` job).
"""

from geoattr.config import check_choice_config, load_choice_config
from geoattr.models.choice.design import ChoiceDesign, SeparationWarning, build_design, separation_report
from geoattr.models.choice.estimation import fit_choice, fit_design
from geoattr.models.choice.hypotheses import parse_hypothesis
from geoattr.models.choice.plot import plot_choice_probabilities
from geoattr.models.choice.results import ChoiceResults
from geoattr.models.choice.run import DEFAULT_PROFILES, run_choice
from geoattr.models.choice.spec import DEFAULT_SPEC, ChoiceSpec, Factor

__all__ = [
    "Factor",
    "ChoiceSpec",
    "ChoiceDesign",
    "ChoiceResults",
    "SeparationWarning",
    "DEFAULT_SPEC",
    "DEFAULT_PROFILES",
    "build_design",
    "fit_design",
    "fit_choice",
    "separation_report",
    "parse_hypothesis",
    "plot_choice_probabilities",
    "load_choice_config",
    "check_choice_config",
    "run_choice",
]
