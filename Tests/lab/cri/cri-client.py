#!/usr/bin/python3
"""A small CRI (runtime.v1) client for the lab: drives containerd's CRI plugin over its unix socket.

    cri-client.py [--socket PATH] [--field KEY] COMMAND ...     (-h after a command for its flags)

Run it with Debian's /usr/bin/python3 (python3-grpcio, python3-grpc-tools). Each run compiles
cri_subset.proto beside this file into a temporary directory and imports the result, so nothing
generated lives in the repository. Output, for a shell script:
  - run-pod and create print the new id alone on one line; wait prints the exit code alone;
  - start, stop, remove, stop-pod and remove-pod print nothing (the exit status says it all);
  - pods -q and list -q print ids, one a line;
  - the other commands print one JSON object; --field KEY prints only that key of it
    (a string raw, anything else as JSON), e.g. `cri-client.py --field state status ID`.
A gRPC error prints "cri-client: METHOD: CODE: details" on stderr and exits 2 (as bad usage
does); wait's timeout exits 3; any other failure exits 1.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid

import grpc
from google.protobuf import json_format

HERE = os.path.dirname(os.path.abspath(__file__))
pb = None  # cri_subset_pb2, set by load_api()


def die(message, code=1):
    print('cri-client: ' + message, file=sys.stderr)
    sys.exit(code)


def load_api():
    """Generates cri_subset_pb2{,_grpc} in a temporary directory and imports them."""
    global pb
    from grpc_tools import protoc  # imported late: it pulls in pkg_resources, slow for -h
    tmp = tempfile.mkdtemp(prefix='cri-client-')
    try:
        if protoc.main(['protoc', '-I' + HERE, '--python_out=' + tmp, '--grpc_python_out=' + tmp,
                        os.path.join(HERE, 'cri_subset.proto')]) != 0:
            die('protoc failed on cri_subset.proto')
        sys.path.insert(0, tmp)
        import cri_subset_pb2
        import cri_subset_pb2_grpc
        del sys.path[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the modules are loaded; the files can go
    pb = cri_subset_pb2
    return cri_subset_pb2_grpc


class Cri:
    def __init__(self, socket, deadline):
        stubs = load_api()
        # ExecSync returns the whole output in one message: allow more than gRPC's 4 MiB default.
        channel = grpc.insecure_channel('unix://' + os.path.abspath(socket),
                                        options=[('grpc.max_receive_message_length', 64 << 20)])
        self.services = (stubs.RuntimeServiceStub(channel), stubs.ImageServiceStub(channel))
        self.deadline = deadline

    def __call__(self, method, request, deadline=None):
        stub = next(s for s in self.services if hasattr(s, method))
        try:
            return getattr(stub, method)(request, timeout=deadline or self.deadline)
        except grpc.RpcError as e:
            die('%s: %s: %s' % (method, e.code().name, e.details()), 2)


def pairs(items):
    """["k=v", ...] from repeated flags -> {k: v}."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition('=')
        if not sep:
            die('expected KEY=VALUE, got %r' % item)
        out[key] = value
    return out


def namespace_options(a):
    # As the kubelet does: network and IPC shared by the pod (or the host's with --host-network),
    # a PID namespace per container unless --share-pid. Containers get the pod's options.
    return pb.NamespaceOption(network=pb.NODE if a.host_network else pb.POD,
                              pid=pb.POD if a.share_pid else pb.CONTAINER, ipc=pb.POD)


def pod_config(a):
    # The default uid is derived from namespace and name, so that `create` rebuilding the sandbox
    # config from the same flags sends the same uid (containerd copies it into annotations).
    uid = a.uid or str(uuid.uuid5(uuid.NAMESPACE_URL, 'cri-client:%s/%s' % (a.namespace, a.pod_name)))
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=a.pod_name, uid=uid, namespace=a.namespace),
        hostname='' if a.host_network else (a.hostname or a.pod_name),
        log_directory=a.log_dir or '',
        dns_config=pb.DNSConfig(servers=a.dns) if a.dns else None,
        labels=pairs(a.pod_label), annotations=pairs(a.pod_annotation),
        linux=pb.LinuxPodSandboxConfig(
            cgroup_parent=a.cgroup_parent or '',
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=namespace_options(a),
                                                            privileged=a.privileged)))


def add_pod_flags(p, name_flag):
    p.add_argument(name_flag, dest='pod_name', required=name_flag == '--name', help='pod name (metadata.name)')
    p.add_argument('--namespace', default='default')
    p.add_argument('--uid', help='pod uid (default: derived from namespace and name)')
    p.add_argument('--hostname', help='default: the pod name (none with --host-network)')
    p.add_argument('--log-dir', help='pod log directory (absolute); container logs go there')
    p.add_argument('--host-network', action='store_true', help="use the host's network namespace")
    p.add_argument('--share-pid', action='store_true', help='one PID namespace for the whole pod')
    p.add_argument('--privileged', action='store_true', help='privileged pod (and, for create, container)')
    p.add_argument('--cgroup-parent')
    p.add_argument('--dns', action='append', help='resolv.conf nameserver (repeatable)')
    p.add_argument('--pod-label', action='append', metavar='K=V')
    p.add_argument('--pod-annotation', action='append', metavar='K=V')


def emit(a, obj):
    if a.field is None:
        print(json.dumps(obj, sort_keys=True))
    elif a.field not in obj:
        die('no field %r in %s' % (a.field, json.dumps(obj, sort_keys=True)))
    else:
        value = obj[a.field]
        print(value if isinstance(value, str) else json.dumps(value, sort_keys=True))


def decoded_info(info):
    """containerd's verbose `info` values are JSON documents in strings: decode those."""
    out = {}
    for key, value in info.items():
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def state_name(enum, value):
    return enum.Name(value) if value in enum.values() else str(value)


# -- commands ------------------------------------------------------------------------------------

def cmd_version(cri, a):
    r = cri('Version', pb.VersionRequest(version='v1'))
    emit(a, {'version': r.version, 'runtime_name': r.runtime_name,
             'runtime_version': r.runtime_version, 'runtime_api_version': r.runtime_api_version})


def cmd_run_pod(cri, a):
    config = pod_config(a)
    pod_id = cri('RunPodSandbox', pb.RunPodSandboxRequest(config=config, runtime_handler=a.handler)).pod_sandbox_id
    if a.state:
        # What `create --state` needs: the id and the exact sandbox config sent here.
        with open(a.state, 'w') as f:
            json.dump({'pod_id': pod_id, 'runtime_handler': a.handler,
                       'config': json_format.MessageToDict(config, preserving_proto_field_name=True)}, f, indent=1)
    print(pod_id)


def cmd_pod_status(cri, a):
    r = cri('PodSandboxStatus', pb.PodSandboxStatusRequest(pod_sandbox_id=a.id, verbose=a.verbose))
    s = r.status
    out = {'id': s.id, 'name': s.metadata.name, 'namespace': s.metadata.namespace,
           'state': state_name(pb.PodSandboxState, s.state), 'ip': s.network.ip,
           'runtime_handler': s.runtime_handler, 'created_at': s.created_at,
           'labels': dict(s.labels), 'annotations': dict(s.annotations)}
    if a.verbose:
        out['info'] = decoded_info(r.info)
    emit(a, out)


def cmd_pods(cri, a):
    r = cri('ListPodSandbox', pb.ListPodSandboxRequest())
    if a.quiet:
        return print(*(p.id for p in r.items), sep='\n')
    emit(a, {'pods': [{'id': p.id, 'name': p.metadata.name, 'namespace': p.metadata.namespace,
                       'state': state_name(pb.PodSandboxState, p.state),
                       'runtime_handler': p.runtime_handler} for p in r.items]})


def cmd_stop_pod(cri, a):
    cri('StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=a.id))


def cmd_remove_pod(cri, a):
    cri('RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=a.id))


def cmd_create(cri, a):
    pod_id = a.pod
    if a.state:
        with open(a.state) as f:
            state = json.load(f)
        sandbox = json_format.ParseDict(state['config'], pb.PodSandboxConfig())
        pod_id = pod_id or state['pod_id']
    elif a.pod_name:
        sandbox = pod_config(a)
    else:
        die('create needs --state FILE (written by run-pod --state) or the pod flags (--pod-name ...)')
    if not pod_id:
        die('create needs --pod ID (or a --state file that has it)')
    resources = pb.LinuxContainerResources(cpu_period=a.cpu_period, cpu_quota=a.cpu_quota,
                                           cpu_shares=a.cpu_shares, memory_limit_in_bytes=a.memory)
    mounts = []
    for spec in a.mount or []:
        parts = spec.split(':')
        if len(parts) not in (2, 3) or parts[2:] not in ([], ['ro'], ['rw']):
            die('--mount wants HOST:CONTAINER[:ro|rw], got %r' % spec)
        mounts.append(pb.Mount(host_path=parts[0], container_path=parts[1], readonly=parts[2:] == ['ro']))
    config = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=a.name), image=pb.ImageSpec(image=a.image),
        # Everything after `--` is the command (it replaces the image's entrypoint and cmd);
        # nothing there means the image's own.
        command=a.cmd, working_dir=a.workdir or '',
        envs=[pb.KeyValue(key=k, value=v.encode()) for k, v in pairs(a.env).items()],
        mounts=mounts, labels=pairs(a.label), annotations=pairs(a.annotation),
        log_path=a.log_path or a.name + '.log', stdin=a.stdin, tty=a.tty,
        linux=pb.LinuxContainerConfig(resources=resources, security_context=pb.LinuxContainerSecurityContext(
            privileged=a.privileged,
            namespace_options=sandbox.linux.security_context.namespace_options)))
    r = cri('CreateContainer', pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=config, sandbox_config=sandbox))
    print(r.container_id)


def cmd_start(cri, a):
    cri('StartContainer', pb.StartContainerRequest(container_id=a.id))


def cmd_stop(cri, a):
    # The runtime sends SIGTERM, then SIGKILL after `timeout` seconds: give the call longer.
    cri('StopContainer', pb.StopContainerRequest(container_id=a.id, timeout=a.timeout), deadline=a.timeout + 60)


def cmd_remove(cri, a):
    cri('RemoveContainer', pb.RemoveContainerRequest(container_id=a.id))


def container_status(cri, cid, verbose=False):
    r = cri('ContainerStatus', pb.ContainerStatusRequest(container_id=cid, verbose=verbose))
    s = r.status
    out = {'id': s.id, 'name': s.metadata.name, 'state': state_name(pb.ContainerState, s.state),
           'exit_code': s.exit_code, 'reason': s.reason, 'message': s.message, 'image': s.image.image,
           'image_ref': s.image_ref, 'created_at': s.created_at, 'started_at': s.started_at,
           'finished_at': s.finished_at, 'log_path': s.log_path}
    if verbose:
        out['info'] = decoded_info(r.info)
    return out


def cmd_status(cri, a):
    emit(a, container_status(cri, a.id, a.verbose))


def cmd_wait(cri, a):
    end = time.monotonic() + a.timeout
    while True:
        status = container_status(cri, a.id)
        if status['state'] == 'CONTAINER_EXITED':
            print(status['exit_code'])
            return
        if time.monotonic() >= end:
            die('%s still %s after %s s' % (a.id, status['state'], a.timeout), 3)
        time.sleep(0.2)


def cmd_exec(cri, a):
    if not a.cmd:
        die('exec needs a command after --')
    # timeout 0 means none for the runtime; then the call has no deadline either.
    r = cri('ExecSync', pb.ExecSyncRequest(container_id=a.id, cmd=a.cmd, timeout=a.timeout),
            deadline=a.timeout + 30 if a.timeout else 10 ** 9)
    if a.raw:
        sys.stdout.buffer.write(r.stdout)
        sys.stdout.flush()
        sys.stderr.buffer.write(r.stderr)
        sys.exit(r.exit_code)
    emit(a, {'exit_code': r.exit_code, 'stdout': r.stdout.decode(errors='replace'),
             'stderr': r.stderr.decode(errors='replace')})


def cmd_list(cri, a):
    r = cri('ListContainers', pb.ListContainersRequest(filter=pb.ContainerFilter(pod_sandbox_id=a.pod or '')))
    if a.quiet:
        return print(*(c.id for c in r.containers), sep='\n')
    emit(a, {'containers': [{'id': c.id, 'pod': c.pod_sandbox_id, 'name': c.metadata.name,
                             'state': state_name(pb.ContainerState, c.state), 'image': c.image.image,
                             'created_at': c.created_at} for c in r.containers]})


def cmd_images(cri, a):
    r = cri('ListImages', pb.ListImagesRequest())
    emit(a, {'images': [{'id': i.id, 'repo_tags': list(i.repo_tags), 'size': i.size} for i in r.images]})


def cmd_image_status(cri, a):
    image = cri('ImageStatus', pb.ImageStatusRequest(image=pb.ImageSpec(image=a.ref))).image
    # CRI answers an unknown image with an empty `image`, not an error.
    emit(a, {'present': bool(image.id), 'id': image.id, 'repo_tags': list(image.repo_tags), 'size': image.size})


def parser():
    top = argparse.ArgumentParser(description='Minimal CRI client (runtime.v1) for the runxl lab.')
    top.add_argument('--socket', default=os.environ.get('CRI_SOCKET', '/run/containerd/containerd.sock'),
                     help='CRI unix socket (default $CRI_SOCKET or /run/containerd/containerd.sock)')
    top.add_argument('--field', help='print only this key of the JSON answer')
    top.add_argument('--rpc-timeout', type=float, default=120, help='deadline of each call, seconds')
    sub = top.add_subparsers(dest='command', required=True)

    def command(name, func, help):
        p = sub.add_parser(name, help=help)
        p.set_defaults(func=func)
        # --field after the command too; SUPPRESS keeps a --field given before it.
        p.add_argument('--field', default=argparse.SUPPRESS, help='print only this key of the JSON answer')
        return p

    command('version', cmd_version, 'runtime name and versions')
    p = command('run-pod', cmd_run_pod, 'RunPodSandbox; prints the pod id')
    add_pod_flags(p, '--name')
    p.add_argument('--handler', default='', help='runtime handler (containerd runtimes.NAME)')
    p.add_argument('--state', help='write pod id and sandbox config here, for create --state')
    for name, func, text in (('pod-status', cmd_pod_status, 'PodSandboxStatus (JSON)'),
                             ('status', cmd_status, 'ContainerStatus (JSON)')):
        p = command(name, func, text)
        p.add_argument('id')
        p.add_argument('--verbose', action='store_true', help="add the runtime's info (spec, pid, ...)")
    command('pods', cmd_pods, 'ListPodSandbox (JSON, or -q: ids)').add_argument('-q', '--quiet', action='store_true')
    for name, func, text in (('stop-pod', cmd_stop_pod, 'StopPodSandbox'),
                             ('remove-pod', cmd_remove_pod, 'RemovePodSandbox'),
                             ('start', cmd_start, 'StartContainer'), ('remove', cmd_remove, 'RemoveContainer')):
        command(name, func, text).add_argument('id')

    p = command('create', cmd_create, 'CreateContainer [-- COMMAND ARGS...]; prints the container id')
    p.add_argument('--pod', help='pod sandbox id (default: the one in --state)')
    p.add_argument('--state', help='file written by run-pod --state: pod id and sandbox config')
    add_pod_flags(p, '--pod-name')  # without --state: rebuild the sandbox config from these
    p.add_argument('--name', required=True, help='container name')
    p.add_argument('--image', required=True)
    p.add_argument('--env', action='append', metavar='K=V')
    p.add_argument('--mount', action='append', metavar='HOST:CONTAINER[:ro]')
    p.add_argument('--label', action='append', metavar='K=V')
    p.add_argument('--annotation', action='append', metavar='K=V')
    p.add_argument('--workdir')
    p.add_argument('--log-path', help='relative to the pod log directory (default NAME.log)')
    p.add_argument('--tty', action='store_true')
    p.add_argument('--stdin', action='store_true')
    p.add_argument('--memory', type=int, default=0, help='memory limit, bytes')
    p.add_argument('--cpu-quota', type=int, default=0, help='CFS quota, microseconds')
    p.add_argument('--cpu-period', type=int, default=0, help='CFS period, microseconds')
    p.add_argument('--cpu-shares', type=int, default=0)

    p = command('stop', cmd_stop, 'StopContainer')
    p.add_argument('id')
    p.add_argument('--timeout', type=int, default=10, help='seconds between SIGTERM and SIGKILL')
    p = command('wait', cmd_wait, 'poll until exited; prints the exit code')
    p.add_argument('id')
    p.add_argument('--timeout', type=float, default=60)
    p = command('exec', cmd_exec, 'ExecSync -- COMMAND ARGS... (JSON, or --raw)')
    p.add_argument('id')
    p.add_argument('--timeout', type=int, default=30, help='seconds; 0 for none')
    p.add_argument('--raw', action='store_true',
                   help="write the output as is and exit with the command's exit code")
    p = command('list', cmd_list, 'ListContainers (JSON, or -q: ids)')
    p.add_argument('--pod', help='only this pod sandbox')
    p.add_argument('-q', '--quiet', action='store_true', help='only the ids, one a line')
    command('images', cmd_images, 'ListImages (JSON)')
    p = command('image-status', cmd_image_status, 'ImageStatus (JSON)')
    p.add_argument('ref')
    return top


def main():
    # The container command is everything after the first `--`: split it off before argparse,
    # which would otherwise read the command's own flags (or ours placed after the id).
    argv = sys.argv[1:]
    cut = argv.index('--') if '--' in argv else len(argv)
    a = parser().parse_args(argv[:cut])
    a.cmd = argv[cut + 1:]
    a.func(Cri(a.socket, a.rpc_timeout), a)


if __name__ == '__main__':
    main()
