# Kiln's source tree: this br2-external tree is its images/buildroot/
# folder. python-kiln and kiln-init build from it (site method local).
KILN_SOURCE_DIR = $(realpath $(BR2_EXTERNAL_KILN_PATH)/../..)
# Kiln's version (setup.py).
KILN_VERSION = 0.1.0
# Build products of a developer checkout are not sources: host
# extension modules and the C files Cython generated for them, the
# virtualenv, image and Buildroot outputs.
KILN_RSYNC_EXCLUSIONS = \
	--exclude=/out --exclude=/.venv --exclude=/.stamps \
	--exclude=/build --exclude=/dist --exclude='*.egg-info' \
	--exclude=__pycache__ --exclude=.pytest_cache \
	--exclude='/sdk/**.so' --exclude='/sdk/**.c'

include $(sort $(wildcard $(BR2_EXTERNAL_KILN_PATH)/package/*/*.mk))
