# checkov imports custom checks only from directories that hold an __init__.py;
# without this file it silently loads nothing and the gate would pass on 0/0.
