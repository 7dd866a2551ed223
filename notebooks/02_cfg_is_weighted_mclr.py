# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # CFG is weighted MCLR
#
# **Statement.** Fix a noise level $\sigma$, a target class $c$ and a guidance scale $w \ge 0$. Let
# $r(x) = p_\sigma(c\mid x)$ be the noisy classifier, $\ell(s; x_0, \varepsilon, c) = \|s(x_0+\sigma\varepsilon, c) + \varepsilon/\sigma\|^2$
# the DSM loss, and weight positives (data of class $c$) by $\alpha_w = 1 + w(1-r)$ and negatives (data of
# any other class $c'$, prior-weighted) by $\beta_w = w\,r/\pi_c$:
#
# $$J_w[s] = E_{x_0\sim p(\cdot\mid c)}[\alpha_w \ell] - \sum_{c'\ne c}\pi_{c'}\,E_{x_0\sim p(\cdot\mid c')}[\beta_w \ell].$$
#
# Then for every field $s$, $\;J_w[s] - J_w[s_w] = E_{x\sim p_\sigma(\cdot\mid c)}\|s(x) - s_w(x)\|^2$, where
# $s_w = s_c + w(s_c - s_u)$ is the CFG score. So CFG is the unique minimiser, and $w=0$ is plain DSM.
#
# **Proof in four lines.** (i) Given the noisy point $x$ and the class $k$ of $x_0$, $E[\varepsilon\mid x,k] = -\sigma s_k(x)$
# (Tweedie), so $E[\ell \mid x, k] = \|s(x) - s_k(x)\|^2 + \text{const}(x)$. (ii) Hence $J_w$ is, at each $x$,
# $\sum_k a_k(x)\|s(x)-s_k(x)\|^2$ with $a_c = p_\sigma(x\mid c)\,\alpha_w$ and $a_{k} = -\pi_k p_\sigma(x\mid k)\,\beta_w$.
# (iii) Using $\pi_c p_\sigma(x\mid c) = r\,p_\sigma(x)$: $\sum_k a_k = p_\sigma(x\mid c)$, so the quadratic in $s(x)$ has
# positive curvature everywhere. (iv) Its minimiser is $\sum_k a_k s_k / \sum_k a_k = \alpha_w s_c - w\sum_{k\ne c} p_\sigma(k\mid x)\,s_k = s_c + w(s_c - s_u)$.
#
# Below, each of the five checks of `sandbox.experiments.verification` runs live. Set `SANDBOX_FAST=1` for small sizes.

# %%
import os

from sandbox import figures, theory, verification, zoo

FAST = os.environ.get("SANDBOX_FAST") == "1"


def show(results):
    """Print a compact table of check results and return whether all passed."""
    for r in results:
        print(f"{r.check:<12} {r.setting:<45} {r.residual:9.2e} <= {r.tolerance:8.2e}  {'pass' if r.passed else 'FAIL'}")
    return all(r.passed for r in results)


# %% [markdown]
# ## 1. Closed form
# The minimiser built from the class densities and class scores equals `cfg_score` to machine precision,
# on grids and random points, for every zoo mixture, noise level and guidance scale (both negative-sampling
# variants: they share the same pointwise quadratic).

# %%
closed = verification.check_closed_form(n_grid=21 if FAST else 61, n_random=200 if FAST else 1000)
assert show(closed[:: 8 if FAST else 1])
assert all(r.passed for r in closed)

# %% [markdown]
# ## 2. The functional identity, by quadrature
# $J_w[s_w + \delta h] - J_w[s_w]$ is a parabola in $\delta$ with vertex at $\delta = 0$ and curvature
# $E_{p_\sigma(\cdot\mid c)}\|h\|^2$ — for every $w$. A wrong negative weight ($1.1\,\beta_w$) moves the vertex.

# %%
quad = verification.check_quadrature(sigmas=(0.05, 1.0) if FAST else verification.SIGMAS,
                                     ws=(0.0, 2.0) if FAST else verification.GUIDANCE,
                                     rules=verification.FAST_QUADRATURE_RULES if FAST else None)
assert show(quad)
figures.theorem_residuals_figure(FAST, data={"closed": verification.residual_table(closed),
                                             "quadrature": verification.residual_table(quad)});

# %%
figures.theorem_parabolas_figure(FAST);

# %% [markdown]
# ## 3. The same identity from the *sampled* training loss (Monte Carlo)
# The estimator the optimiser actually sees — rows of the joint data with a uniformly drawn negative label
# and importance factor $K-1$ (or $K$) — has the predicted mean within simultaneous 99% intervals; with
# $1.1\,\beta_w$ it does not.

# %%
grid = {"sigmas": (3.0,), "ws": (2.0,), "n": 20_000 if FAST else 200_000}
right = verification.check_monte_carlo(**grid)
wrong = verification.check_monte_carlo(**grid, beta_scale=1.1)
assert show(right)
show(wrong)

# %% [markdown]
# ## 4. Learning
# A small MLP field trained by Adam on the sampled weighted loss converges to $s_w$; trained on DSM, to $s_c$.

# %%
learn = verification.check_learning(sigmas=(1.0,), steps=150 if FAST else 1500, batch=512 if FAST else 4096)
show(learn)
figures.learning_curves_figure(FAST);

# %% [markdown]
# ## 5. Symbolic
# For 1D Gaussian classes sympy solves the pointwise quadratic and the difference to the CFG score cancels to 0.

# %%
s_star, s_cfg, diff = verification.symbolic_minimiser(2, "mismatched")
print("minimiser - CFG score =", diff)
assert diff == 0

# %% [markdown]
# ## 6. Distribution level
# The tilted density $q_0 \propto p(x\mid c)^{1+w}p(x)^{-w}$ maximises $E_q[\log p(c\mid x)] - \tfrac1w \mathrm{KL}(q\,\|\,p(\cdot\mid c))$.
# (Sampling with $s_w$ does *not* sample $q_0$: the family of tilted noisy densities is not a diffusion.)

# %%
assert show(verification.check_distribution(ws=(2.0,), n_grid=61 if FAST else 201, perturbations=5))

# %% [markdown]
# ## Unweighted MCLR has no minimiser where $A(x) \le 0$
# $A(x) = (1+\lambda)\pi_c p_\sigma(x\mid c) - \tfrac{\lambda}{K-1}\sum_{c'\ne c}\pi_{c'}p_\sigma(x\mid c')$; where it is
# negative the loss decreases without bound as the field is pushed. The weights $\alpha_w, \beta_w$ fix this:

# %%
figures.mclr_ill_posed_figure(FAST);

# %%
figures.mclr_weights_figure(FAST);

# %%
g = zoo.overlap_2d()
x = g.sample(2000, sigma=0.5, generator=0)
print("fraction of p_sigma where unweighted MCLR (lambda=1) is ill-posed:",
      float((theory.mclr_coefficient(g, x, 0.5, 0, 1.0) <= 0).double().mean()))
