"""The polynomial behind the CUTLASS GEMM's erf GELU (GeluErfPoly5 in
lib/runtime/CutlassGemm.cu): gelu(x) = relu(x) - |x| h(|x|) with
h(u) = erfc(u / sqrt(2)) / 2 = 2^Q(u), Q of degree 5. Fits Q to log2(h) on
[0, 5.5], minimax (Lawson iterations) in the GELU's error, whose weight per
unit of Q's error is u h(u) ln 2; then evaluates the fp32 kernel (fma
Horner, 2^x with the SFU's 2^-22 relative error, either sign) against the
erf GELU in double on 22M points of [-11, 11], and past 11 up to 3e38.
Prints the coefficients and the worst errors. CPU only, numpy.

  gelu_erf_poly.py [DEGREE]
"""
import math, sys
import numpy as np

DEGREE = int(sys.argv[1]) if len(sys.argv) > 1 else 5
U_MAX = 5.5
erf, erfc = np.vectorize(math.erf), np.vectorize(math.erfc)


def fit(degree, u_max, iters=60):
    u = np.linspace(0, u_max, 4000)
    h = 0.5 * erfc(u / math.sqrt(2))
    weight = np.maximum(u * h * math.log(2), 1e-9)
    v = np.vander(u / u_max, degree + 1)
    lawson = np.ones_like(u)
    for _ in range(iters):
        w = weight * np.sqrt(lawson)
        c, *_ = np.linalg.lstsq(v * w[:, None], np.log2(h) * w, rcond=None)
        lawson *= np.abs(v @ c - np.log2(h)) * weight
        lawson /= lawson.sum()
    return [float(np.float32(k)) for k in c / u_max ** np.arange(degree, -1, -1)]


def kernel_gelu(x, coeffs, ex2_error):
    u = np.abs(x)
    q = np.full_like(u, coeffs[0])
    with np.errstate(all="ignore"):
        for k in coeffs[1:]:
            q = (q * u + k).astype(np.float32).astype(np.float64)
        h = np.exp2(q).astype(np.float32).astype(np.float64) * (1 + ex2_error)
        h = np.where(h < 2.0 ** -126, 0.0, h)  # ex2.approx.ftz
        return (np.maximum(x, 0) - u * h).astype(np.float32).astype(np.float64)


coeffs = fit(DEGREE, U_MAX)
print("Q coefficients, highest power first:", coeffs)
xs = np.linspace(-11, 11, 22_000_001).astype(np.float32).astype(np.float64)
want = 0.5 * xs * (1 + erf(xs / math.sqrt(2)))
worst = 0.0
for sign in (-1, 1):
    err = np.abs(kernel_gelu(xs, coeffs, sign * 2.0 ** -22) - want)
    i = err.argmax()
    if err[i] > worst:
        worst, at = err[i], xs[i]
print("max |gelu - erf gelu| on [-11, 11]: %.3g at x = %.4f" % (worst, at))
big = np.geomspace(11, 3e38, 200_000).astype(np.float32).astype(np.float64)
for x in (big, -big):
    err = np.abs(kernel_gelu(x, coeffs, 2.0 ** -22) - np.maximum(x, 0))
    print("max |gelu - relu| for %s11 .. %s3e38: %.3g" % (("" if x[0] > 0 else "-",) * 2 + (err.max(),)))
