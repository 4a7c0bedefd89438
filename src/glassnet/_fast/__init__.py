"""Machine tuning, kept away from the equations: which BLAS kernels and how many
threads run the matrix products (``blas``, ``threads``), the compiled one-pass loops
(``kernels``) and the packing of their arguments (``fused``), the work arrays a
training step writes into (``work``), and the operations the math modules call to
use all of these (``ops``).

Nothing here changes a number: the compiled loops are bitwise the numpy code they
stand for, and the thread count only decides how a product is split over the cores.
"""
