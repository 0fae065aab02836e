#!/usr/bin/env bash
# Make the Fashion-MNIST idx files available for the demo (`make data`).
#
#   tools/get_fashion_mnist.sh
#
# 1. If the four files are in FASHION_MNIST_DIR (when set) or in
#    /usr/share/datasets/fashion-mnist (where Debian's dataset-fashion-mnist
#    puts them), say so.
# 2. Else, as root or with passwordless sudo, install that Debian package
#    (apt-get update && apt-get install -y dataset-fashion-mnist).
# 3. Else say that tools/demo.py will fall back to mmpretrain's download.
#
# Exits 0 in all three cases; running it again changes nothing. When the
# files are available, the only line on stdout is their folder (messages go
# to stderr), so `DIR=$(tools/get_fashion_mnist.sh)` works; otherwise stdout
# is empty. FASHION_MNIST_NO_INSTALL=1 skips step 2.

# where the Debian package puts the files (overridable for the tests)
APT_DIR=${FASHION_MNIST_APT_DIR:-/usr/share/datasets/fashion-mnist}
DIR=${FASHION_MNIST_DIR:-${APT_DIR}}
FILES="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

say() { echo "get_fashion_mnist: $*" >&2; }

have_all() {
    local f
    for f in ${FILES}; do
        [ -f "$1/$f" ] || return 1
    done
}

found() {
    say "Fashion-MNIST idx files found in $1"
    echo "$1"
    exit 0
}

have_all "${DIR}" && found "${DIR}"
have_all "${APT_DIR}" && found "${APT_DIR}"

if [ "${FASHION_MNIST_NO_INSTALL:-0}" != 1 ]; then
    SUDO=none
    if [ "$(id -u)" = 0 ]; then
        SUDO=
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    fi
    if [ "${SUDO}" != none ] && command -v apt-get >/dev/null 2>&1; then
        say "installing the Debian package dataset-fashion-mnist"
        if ${SUDO} apt-get update -qq >&2 &&
            ${SUDO} env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq dataset-fashion-mnist >&2; then
            have_all "${APT_DIR}" && found "${APT_DIR}"
            say "the package installed, but ${APT_DIR} lacks the files"
        else
            say "could not install dataset-fashion-mnist"
        fi
    else
        say "not root, no passwordless sudo or no apt-get: cannot install" \
            "dataset-fashion-mnist"
    fi
fi

say "Fashion-MNIST idx files not found in ${DIR}."
say "tools/demo.py will fall back to mmpretrain's FashionMNIST download" \
    "(needs internet access to the official site)."
exit 0
