"""Reference values for PythonFormat.Fixed: Python's format(x, '.Nf') for chosen and random doubles.
Writes python_format.tsv: repr(x) (which reads back as the same double), digits, format(x, '.{digits}f').
Run: python3 python_format.py"""
import random

chosen = [0.625, 0.125, 0.375, 2.675, 1.005, 0.5, 1.5, 2.5, -0.5, -0.0, -0.004, 0.1 + 0.2, 1 / 3, 2 / 3,
          123456.785, 1e22, 1.7976931348623157e308, 5e-324, 1e-7, 0.045, 0.9999999, 99.995]
rng = random.Random(20240601)
randoms = [rng.uniform(-1, 1) for _ in range(20)] + [rng.uniform(-1e6, 1e6) for _ in range(10)] \
          + [rng.random() * 10 ** rng.randint(-12, 12) for _ in range(10)]
with open('python_format.tsv', 'w') as out:
    for x in chosen + randoms:
        for digits in (0, 1, 2, 3, 4, 8, 17):
            out.write('%r\t%d\t%s\n' % (x, digits, format(x, '.%df' % digits)))
