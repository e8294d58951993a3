# make_pki DIR: a throw-away CA, the apiserver serving cert, an admin client cert (system:masters) and the
# service-account signing key pair. Regenerated on every `lab up`; never leaves $LAB_RUN.
make_pki() {
  local d=$1 ip=$LAB_UNDERLAY_PREFIX.1
  mkdir -p "$d"; chmod 700 "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=kubectl-flannel-lab-ca" 2>/dev/null
    cat > apiserver.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:$ip,IP:127.0.0.1,IP:10.96.0.1
EXT
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > client.ext
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out apiserver.crt -extfile apiserver.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=kubernetes-admin" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out admin.crt -extfile client.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}
# make_kubeconfig FILE USER CREDENTIAL-FLAGS...
make_kubeconfig() {
  local f=$1 u=$2; shift 2
  local k="$K8S_DIR/bin/kubectl"
  "$k" config --kubeconfig="$f" set-cluster lab --server="$LAB_APISERVER" --certificate-authority="$LAB_RUN/pki/ca.crt" --embed-certs >/dev/null
  "$k" config --kubeconfig="$f" set-credentials "$u" "$@" >/dev/null
  "$k" config --kubeconfig="$f" set-context lab --cluster=lab --user="$u" >/dev/null
  "$k" config --kubeconfig="$f" use-context lab >/dev/null
  chmod 600 "$f"
}
