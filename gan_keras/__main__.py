import sys

from gan_keras.cli import main

sys.exit(main())
