FACTOR = 1000


def scale(x):
    return x * FACTOR
