"""train: the train state, the distributed step, losses, optimizer, strategies and the fit loop
with its validation. Imports every wing below it: validation scores with serve's graph and
evaluate's protocol, so a run's validation equals evaluate.py's."""
