"""Exact solvers for the four linear classifiers of Table 1, along a path of values of C.

Each solver minimises the very objective that scikit-learn's solver minimises, to a tighter
tolerance, starting each value of C from the solution of the previous one (a warm start along
the regularisation path). With ``A = y * [Z, 1]`` (one row per training sample, labels
``y = +-1``, the last column the intercept feature of liblinear, ``intercept_scaling=1``):

- ``l2_logistic`` (liblinear, penalised intercept): ``0.5 |w|^2 + C sum log(1 + exp(-A w))``,
  by Newton's method whose linear systems are solved by preconditioned conjugate gradients;
- ``l1_logistic`` and ``l1_svc`` (liblinear, penalised intercept): ``|w|_1 + C sum loss(A w)``
  with the logistic or the squared hinge loss ``max(0, 1 - m)^2``, by an orthant-wise Newton
  method that only works on the voxels with a non-zero weight or a gradient that could make
  them non-zero (the active set);
- ``l2_svc`` (libsvm, unpenalised intercept ``b``): the dual
  ``min 0.5 a'Qa - sum a, 0 <= a <= C, y'a = 0`` by an active-set method: the samples are
  split into those inside the margin (``a = C``), outside it (``a = 0``) and on it, whose
  ``a`` and ``b`` solve a linear system; misplaced samples move between the sets until the
  optimality (KKT) conditions hold. Between two iterations the samples that stay on the
  margin keep their block of the Gram matrix; ``b`` is eliminated through a Cholesky
  factorisation of that block in float32, refined in float64 until the margins are 1 to
  float64 accuracy (else the whole system is solved in float64).

Float32 only ever chooses a search direction or a first solution that float64 corrects: the
gradients, objectives and optimality tests are computed in float64.

Every solver reports whether it reached its optimality conditions; the caller refits the few
that did not with scikit-learn, so the answers never depend on a heuristic having worked.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import LinAlgError, LinAlgWarning, cho_factor, cho_solve, lu_factor, lu_solve
from scipy.linalg.blas import strsv
from scipy.linalg.lapack import spotrf
from scipy.special import expit

#: Largest violation of the optimality conditions accepted, in units of the gradient.
TOL = 1e-6

# How many misplaced samples the SVC's active set moves at a time: (first fraction of them,
# least number, smallest fraction), while few samples are on the margin and while many
# (more than _CROWDED * n_features) are.
_BOLD = (1.0, 50, 0.1)
_CAREFUL = (0.3, 20, 0.1)
_CROWDED = 0.7
# The l1 solvers' working set: the non-zero weights and at most max(_ENTER_MIN, share * their
# number) zero weights that violate their optimality condition most. The share starts at
# _ENTER; it doubles (up to the largest of _SHARES) after a step that kept every voxel that
# entered non-zero, and halves (down to the smallest) after a step that sent one back to
# zero: voxels that enter and leave again cost Newton steps.
_ENTER, _ENTER_MIN = 0.2, 10
_SHARES = (0.05, 1.0)


def design(Z, y):
    """``A = s * [Z, 1]`` and the labels ``s = +-1`` of binary ``y`` (1 is positive)."""
    s = np.where(np.asarray(y) > 0, 1.0, -1.0)
    A = np.empty((len(Z), Z.shape[1] + 1))
    A[:, :-1] = Z
    A[:, -1] = 1.0
    A *= s[:, None]
    return A, s


def _logistic(m):
    """Sum of ``log(1 + exp(-m))`` and its derivative in ``m``."""
    return np.logaddexp(0.0, -m).sum(), -expit(-m)


def _squared_hinge(m):
    """Sum of ``max(0, 1 - m)^2`` and its derivative in ``m``."""
    r = np.maximum(1.0 - m, 0.0)
    return r @ r, -2.0 * r


def objective(model, A, w, C):
    """The objective of ``model`` at ``w`` (intercept last; unpenalised for ``l2_svc``)."""
    m = A @ w
    if model == "l2_logistic":
        return 0.5 * w @ w + C * _logistic(m)[0]
    if model == "l1_logistic":
        return np.abs(w).sum() + C * _logistic(m)[0]
    if model == "l1_svc":
        return np.abs(w).sum() + C * _squared_hinge(m)[0]
    return 0.5 * w[:-1] @ w[:-1] + C * np.maximum(1.0 - m, 0.0).sum()


def l2_logistic_path(A, Cs, *, max_iter=50):
    """Newton-CG along ``Cs``; returns the list of ``(w, converged)``."""
    n, p1 = A.shape
    A32 = A.astype(np.float32)
    gram = (A32.T @ A32).astype(np.float64)  # for the preconditioner only: float32 will do
    w, path = np.zeros(p1), []
    for C in Cs:
        m = A @ w
        f = 0.5 * w @ w + C * _logistic(m)[0]
        precond = None
        converged = False
        for _ in range(max_iter):
            q = expit(-m)
            g = w - C * (A.T @ q)
            if np.abs(g).max() <= TOL:
                converged = True
                break
            d = C * q * (1.0 - q)
            if precond is None:  # I + C mean(d) A'A: the Hessian when every sample weighs alike
                M = gram * d.mean()
                M[np.diag_indices_from(M)] += 1.0
                precond = cho_factor(M, check_finite=False)
            step = _pcg(lambda v, A=A, d=d: v + A.T @ (d * (A @ v)), -g, precond)
            w, m, f = _armijo(w, m, f, g @ step, step, A @ step,
                              lambda w, m, C=C: 0.5 * w @ w + C * _logistic(m)[0])
        path.append((w.copy(), converged))
    return path


def _pcg(matvec, rhs, precond, *, rtol=1e-3, max_iter=100):
    """Preconditioned conjugate gradients for ``matvec(x) = rhs``, to a relative residual."""
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = cho_solve(precond, r, check_finite=False)
    direction, rz = z.copy(), r @ z
    stop = rtol * np.linalg.norm(rhs)
    for _ in range(max_iter):
        Ad = matvec(direction)
        alpha = rz / (direction @ Ad)
        x += alpha * direction
        r -= alpha * Ad
        if np.linalg.norm(r) <= stop:
            break
        z = cho_solve(precond, r, check_finite=False)
        rz, rz_old = r @ z, rz
        direction = z + (rz / rz_old) * direction
    return x


def _armijo(w, m, f, slope, step, A_step, fun):
    """Backtracking line search along ``step``; returns the new ``(w, m, f)``."""
    t = 1.0
    while t > 1e-12:
        w_new, m_new = w + t * step, m + t * A_step
        f_new = fun(w_new, m_new)
        if f_new <= f + 1e-4 * t * slope:
            return w_new, m_new, f_new
        t *= 0.5
    return w, m, f


def l1_path(A, Cs, loss, *, max_iter=100):
    """Orthant-wise Newton along ``Cs`` for ``|w|_1 + C sum loss``; list of ``(w, converged)``."""
    n, p1 = A.shape
    loss_fun = _logistic if loss == "logistic" else _squared_hinge
    A32 = A.astype(np.float32)
    inside = InsideGram(A32)
    w, path = np.zeros(p1), []
    for C in Cs:
        m = A @ w
        value, dloss = loss_fun(m)
        f = np.abs(w).sum() + C * value
        converged, stalls, share = False, 0, _ENTER
        for _ in range(max_iter):
            g = C * (A.T @ dloss)
            # the smallest subgradient: zero exactly at the optimum
            v = np.where(w != 0, g + np.sign(w), np.sign(g) * np.maximum(np.abs(g) - 1.0, 0.0))
            worst = np.abs(v).max()
            if worst <= TOL or (stalls >= 2 and worst <= 1e3 * TOL):
                converged = True  # optimal, or no progress left within rounding errors
                break
            orthant = np.where(w != 0, np.sign(w), -np.sign(v))
            # working set: the non-zero weights and the most violating zero weights only
            entering = np.flatnonzero((w == 0) & (v != 0))
            limit = max(_ENTER_MIN, int(share * np.count_nonzero(w)))
            entering = entering[np.argsort(-np.abs(v[entering]))[:limit]]
            active = np.union1d(np.flatnonzero(w), entering)
            step = _l1_newton_step(A32, m, C, loss, active, -(g + orthant)[active], inside)
            w_new, m_new, f_new = _orthant_search(A, w, m, f, C, loss_fun, active, step,
                                                   orthant[active], g + orthant)
            stalls = stalls + 1 if f - f_new <= 1e-12 * abs(f) else 0
            if len(entering) >= limit:  # the limit was binding: adapt it
                kept = np.count_nonzero(w_new[entering]) == len(entering)
                share = min(_SHARES[1], share * 2) if kept else max(_SHARES[0], share / 2)
            w, m, f = w_new, m_new, f_new
            dloss = loss_fun(m)[1]
        path.append((w.copy(), converged))
    return path


class InsideGram:
    """``A_I' A_I`` for the samples ``I`` inside the margin (``m < 1``), kept up to date.

    Between two Newton steps of the squared hinge, few samples cross the margin: adding and
    removing their rows costs much less than computing the matrix again.
    """

    def __init__(self, A32):
        self.A32 = A32
        self.inside = np.zeros(len(A32), bool)
        self.gram = np.zeros((A32.shape[1], A32.shape[1]), np.float32)

    def update(self, m):
        inside = m < 1.0
        enter, leave = inside & ~self.inside, self.inside & ~inside
        if enter.sum() + leave.sum() > inside.sum():
            rows = self.A32[inside]
            self.gram = rows.T @ rows
        else:
            rows_in, rows_out = self.A32[enter], self.A32[leave]
            self.gram += rows_in.T @ rows_in - rows_out.T @ rows_out
        self.inside = inside
        return self.gram


def _l1_newton_step(A32, m, C, loss, active, rhs, inside):
    """Newton direction on the active voxels.

    The Hessian is only needed to choose a direction (the gradient and the objective are
    computed in float64), so it is computed in float32, twice as fast.
    """
    if loss == "logistic":
        q = expit(-m)
        Aa = A32[:, active]
        H = (Aa.T * (C * q * (1.0 - q)).astype(np.float32)) @ Aa
    else:
        H = np.float32(2.0 * C) * inside.update(m).take(active, axis=0).take(active, axis=1)
    H = H.astype(np.float64)
    scale = max(H.trace() / len(active), 1e-12)
    # A singular H (fewer samples inside the margin than active voxels): a larger ridge,
    # much cheaper than a least-squares solve; the line search and the optimality test
    # downstream do not depend on the exactness of the direction.
    for ridge in (1e-8, 1e-5, 1e-2):
        H[np.diag_indices_from(H)] += ridge * scale
        try:
            step = cho_solve(cho_factor(H, check_finite=False), rhs, check_finite=False)
            break
        except (np.linalg.LinAlgError, LinAlgError):
            continue
    else:
        step = rhs
    if step @ rhs <= 0:  # not a descent direction (H nearly singular): steepest descent
        step = rhs
    return step


def _orthant_search(A, w, m, f, C, loss_fun, active, step, orthant, pseudo_gradient):
    """Line search along ``step``, projected on the orthant: no weight changes sign.

    Besides halving the step, it tries the minimum of the parabola through the objective at
    0 and 1 with the slope at 0: on the piecewise quadratic squared hinge, where one sample
    crossing the margin makes plain halving crawl, that step is often nearly exact.
    """
    # with many active voxels, a product with all of A is cheaper than copying its columns
    A_active = A[:, active] if 2 * len(active) < A.shape[1] else None

    def trial(t):
        w_new = w.copy()
        moved = w[active] + t * step
        w_new[active] = np.where(moved * orthant < 0, 0.0, moved)
        if A_active is None:
            m_new = m + A @ (w_new - w)
        else:
            m_new = m + A_active @ (w_new[active] - w[active])
        f_new = np.abs(w_new).sum() + C * loss_fun(m_new)[0]
        return w_new, m_new, f_new, pseudo_gradient @ (w_new - w)

    t, best = 1.0, None
    while t > 1e-12:
        w_new, m_new, f_new, slope = trial(t)
        if f_new <= f + 1e-4 * slope:
            best = (w_new, m_new, f_new)
            break
        t *= 0.5
    if best is None:
        return w, m, f
    curvature = f_new - f - slope
    if curvature > 0 and 0 < -slope / (2 * curvature) < 1:
        w_mid, m_mid, f_mid, _ = trial(t * -slope / (2 * curvature))
        if f_mid < best[2]:
            best = (w_mid, m_mid, f_mid)
    return best


def svc_path(Zy, s, Cs, f_init, *, max_iter=200):
    """Active-set solver of the linear SVM dual along ``Cs``; list of ``(w, b, converged)``.

    ``Zy`` holds the rows ``s_i z_i``; ``f_init`` is a first guess of the decision function
    on the training samples (it chooses the first samples put on the margin).
    """
    n, p = Zy.shape
    g = s * f_init - 1.0
    on = np.zeros(n, bool)
    on[np.argsort(np.abs(g))[: min(50, n, p // 4 + 1)]] = True
    inside = ~on & (g < 0)
    Zy32 = Zy.astype(np.float32)
    # at most p + 1 samples are on the margin (but one more in the cautious mode)
    cache = (np.zeros(0, int), np.empty((min(n, p + 2),) * 2, np.float32), np.zeros(n, bool),
             np.zeros(p))
    path = []
    for C in Cs:
        converged, seen, cautious = False, set(), False
        # Few samples on the margin (small C): move many misplaced samples at a time. Many
        # (large C, up to p + 1): move fewer, which avoids cycling between partitions.
        crowded = on.sum() > _CROWDED * p
        fraction, least, smallest = _CAREFUL if crowded else _BOLD
        for _ in range(max_iter):
            state = hash(np.packbits(on).tobytes() + np.packbits(inside).tobytes())
            if state in seen:  # the sets came back: from now on, one sample at a time
                cautious = True
            seen.add(state)
            alpha, w, b, cache = _svc_solve(Zy, Zy32, s, C, inside, on, cache)
            g = Zy @ w + b * s - 1.0
            violation = np.where(inside, np.maximum(g, 0.0), 0.0)
            violation += np.where(~inside & ~on, np.maximum(-g, 0.0), 0.0)
            beyond = np.where(on, np.maximum(-alpha, alpha - C), 0.0)
            if violation.max() <= TOL and beyond.max() <= 0.0:
                converged = True
                break
            if cautious:
                worst = np.argmax(beyond) if beyond.max() > 0 else np.argmax(violation)
                on_new, inside_new = on.copy(), inside.copy()
                on_new[worst] = not on[worst]
                inside_new[worst] = on[worst] and alpha[worst] >= C
                on, inside = on_new, inside_new
                continue
            low, high = on & (alpha <= 0.0), on & (alpha >= C)
            bad = np.flatnonzero(violation > TOL)
            on_new = on & ~low & ~high
            # Moving all the misplaced samples onto the margin at once can make the method
            # cycle: move the worst part of them, a part that grows while no sample has to
            # leave the margin again, and shrinks when some do.
            shrink = low.any() or high.any()
            fraction = max(smallest, fraction / 2) if shrink else min(1, 2 * fraction)
            count = max(int(np.ceil(fraction * len(bad))), min(len(bad), least))
            # at most p + 1 samples on the margin: beyond, their system is singular
            count = max(0, min(count, p + 1 - int(on_new.sum())))
            on_new[bad[np.argsort(-violation[bad])[:count]]] = True
            inside = (inside & ~on_new) | high
            on = on_new
        path.append((w.copy(), b, converged))
    return path


def _svc_solve(Zy, Zy32, s, C, inside, on, cache):
    """Dual variables with ``a = C`` inside the margin, ``a = 0`` outside, margin 1 on it.

    ``cache`` holds the samples on the margin at the previous call, in the order of the
    system, and a buffer whose leading block is their Gram matrix in float32: it is kept up
    to date by moving the rows of the few samples that left or joined, and only the rows of
    those that joined are computed. It also holds the samples inside the margin and the sum of
    their rows, updated by the few rows that crossed. ``Zy32`` is ``Zy`` in float32.

    The margin conditions ``G a + b s = r`` and ``s'a = c`` (``G`` the Gram matrix of the
    samples on the margin) are solved by eliminating ``b`` with a Cholesky factorisation of
    ``G`` in float32 (half the work of an LU factorisation of the whole system), refined in
    float64 until the margins are 1 to float64 accuracy; if they are not (``G`` singular or
    ill-conditioned), by :func:`_solve_refined` on the whole system in float64.
    """
    old_index, buffer, old_inside, inside_sum = cache
    enter, leave = np.flatnonzero(inside & ~old_inside), np.flatnonzero(old_inside & ~inside)
    if len(enter) + len(leave) < inside.sum():  # few samples crossed: update the sum
        inside_sum = inside_sum + Zy[enter].sum(axis=0) - Zy[leave].sum(axis=0)
    else:
        inside_sum = inside.astype(np.float64) @ Zy
    # The samples that left the margin leave holes in the Gram block; the last samples that
    # stay fill them (their rows and columns are moved), then those that joined are appended.
    stay = on[old_index]
    k_old, k0 = len(old_index), int(stay.sum())
    holes = np.flatnonzero(~stay[:k0])
    last = k0 + np.flatnonzero(stay[k0:])
    index = old_index[:k0].copy()
    if len(holes):
        index[holes] = old_index[last]
        buffer[holes, :k_old] = buffer[last, :k_old]
        buffer[:k0, holes] = buffer[:k0, last]
    joined = on.copy()
    joined[old_index] = False
    index = np.concatenate([index, np.flatnonzero(joined)])
    k = len(index)
    if k > len(buffer):  # more samples on the margin than planned for
        larger = np.empty((k, k), np.float32)
        larger[:k0, :k0] = buffer[:k0, :k0]
        buffer = larger
    new_rows = Zy32[index[k0:]] @ Zy32[index].T
    buffer[k0:k, :k] = new_rows
    buffer[:k0, k0:k] = new_rows[:, :k0].T
    gram = buffer[:k, :k]
    Z_on, s_on = Zy[index], s[index]
    w_inside = C * inside_sum
    c = -C * s[inside].sum()
    solution = _margin_solve(gram, Z_on, s_on, w_inside, c) if k else None
    if solution is None:  # the whole system in float64
        M = np.empty((k + 1, k + 1))
        M[:k, :k] = Z_on @ Z_on.T
        M[:k, k] = M[k, :k] = s_on
        M[k, k] = 0.0
        rhs = np.append(1.0 - Z_on @ w_inside, c)
        solution = _solve_refined(M, rhs)
    alpha = np.where(inside, C, 0.0)
    alpha[index] = solution[:k]
    # a copy of inside: the caller may change its array
    cache = (index, buffer, inside.copy(), inside_sum)
    return alpha, w_inside + Z_on.T @ solution[:k], solution[k], cache


def _margin_solve(gram, Z_on, s_on, w_inside, c, *, refinements=6):
    """``(a, b)`` with margins ``Z_on (w_inside + Z_on'a) + b s_on = 1`` and ``s_on'a = c``.

    ``b`` is eliminated through the Cholesky factor of ``gram`` (float32, ``Z_on Z_on'``):
    ``a = G^-1 (r - b s)``, ``b = (s'G^-1 r - c) / s'G^-1 s``. The residual of the margins
    is computed in float64 from ``Z_on`` itself, and corrected by the same formulas until it
    is below ``1e-10``; returns ``None`` if it does not get there (or ``G`` is singular).
    """
    # gram.T: the same matrix in Fortran order; spotrf copies it (gram serves the next call)
    factor, info = spotrf(gram.T, lower=1, clean=0)
    if info != 0:
        return None

    def solve(v):  # two triangular solves: strsv, 4 times faster than spotrs for one vector
        x = strsv(factor, v.astype(np.float32), lower=1)
        return strsv(factor, x, lower=1, trans=1).astype(np.float64)

    r = 1.0 - Z_on @ w_inside
    bound = 1e-10 * max(1.0, np.abs(r).max(), abs(c))
    y, u = solve(r), solve(s_on)
    curvature = s_on @ u
    if not np.isfinite(curvature) or curvature <= 0.0:
        return None

    def eliminate(y, c):
        b = (s_on @ y - c) / curvature
        return y - b * u, b

    a, b = eliminate(y, c)
    for _ in range(refinements):
        margin_residual = r - Z_on @ (Z_on.T @ a) - b * s_on
        sum_residual = c - s_on @ a
        worst = max(np.abs(margin_residual).max(), abs(sum_residual))
        if not np.isfinite(worst):
            return None
        if worst <= bound:
            return np.append(a, b)
        da, db = eliminate(solve(margin_residual), sum_residual)
        a += da
        b += db
    return None


def _solve_refined(M, rhs, *, refinements=2):
    """Solve ``M x = rhs``: LU in float32, refined in float64, checked.

    The float32 factorisation takes half the time; each refinement step corrects ``x`` by
    the solution for the float64 residual. If the residual is still not at float64 level
    (an ill-conditioned ``M``), the system is solved again in float64, by least squares
    when ``M`` is singular.
    """
    bound = 1e-10 * max(1.0, np.abs(rhs).max())
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", LinAlgWarning)  # singular: caught by the check
        lu = lu_factor(M.astype(np.float32), check_finite=False)
        x = lu_solve(lu, rhs.astype(np.float32), check_finite=False).astype(np.float64)
        for _ in range(refinements):
            residual = rhs - M @ x
            if not np.isfinite(residual).all() or np.abs(residual).max() <= bound:
                break
            x += lu_solve(lu, residual.astype(np.float32), check_finite=False)
        residual = rhs - M @ x
        if np.isfinite(residual).all() and np.abs(residual).max() <= bound:
            return x
        x = lu_solve(lu_factor(M, check_finite=False), rhs, check_finite=False)
    if np.isfinite(x).all() and np.abs(rhs - M @ x).max() <= bound:
        return x
    return np.linalg.lstsq(M, rhs, rcond=None)[0]


def fit_paths(Z, y, models, Cs, fallback):
    """Weights of every model and C on one training set, intercept last.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Binary (0/1) labels.
    models : sequence of str
    Cs : sequence of float, increasing
    fallback : callable
        ``fallback(model, C, Z, y)`` returns the weights (intercept last) of scikit-learn's
        estimator; used for the rare solution that did not reach its optimality conditions.

    Returns
    -------
    weights : ndarray of shape (n_models, n_Cs, n_features + 1)
    converged : ndarray of shape (n_models, n_Cs), bool
        False where the weights come from ``fallback``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    A, s = design(Z, y)
    weights = np.empty((len(models), len(Cs), A.shape[1]))
    converged = np.empty((len(models), len(Cs)), dtype=bool)
    logistic_path = None
    for i, model in enumerate(models):
        if model in ("l2_logistic", "l2_svc") and logistic_path is None:
            cs = Cs if "l2_logistic" in models else Cs[:1]
            logistic_path = l2_logistic_path(A, cs)
        if model == "l2_logistic":
            path = logistic_path
        elif model == "l1_logistic":
            path = l1_path(A, Cs, "logistic")
        elif model == "l1_svc":
            path = l1_path(A, Cs, "squared_hinge")
        else:  # the first guess of the decision function: the l2 logistic model's at Cs[0]
            w0 = logistic_path[0][0]
            f0 = Z @ w0[:-1] + w0[-1]
            path = [(np.append(w, b), ok) for w, b, ok in svc_path(A[:, :-1], s, Cs, f0)]
        for c, (w, ok) in enumerate(path):
            weights[i, c] = w if ok else fallback(model, Cs[c], Z, y)
            converged[i, c] = ok
    return weights, converged
