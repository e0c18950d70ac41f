# python3 with subprocess (argv and shell=True), os.system and a
# ProcessPoolExecutor of two workers.
import hashlib, os, subprocess, time
from concurrent.futures import ProcessPoolExecutor

def work(n):
    h = 0
    for k in range(20000):
        h = (h * 31 + n * k) % 1000003
    return n, h

def main():
    with ProcessPoolExecutor(max_workers=2) as pool:
        for i in range(1, 31):
            out = subprocess.run(['md5sum'], input=f'{i}\n', capture_output=True, text=True, check=True).stdout.split()[0]
            sh = subprocess.run(f'echo {i} | tr 0-9 a-j; exit {i % 3}', shell=True, capture_output=True, text=True)
            rc = os.system(f'sleep 0.05; exit {i % 4}')
            squares = list(pool.map(work, range(i, i + 4)))
            print(i, out, sh.stdout.strip(), sh.returncode, os.waitstatus_to_exitcode(rc), squares, flush=True)
            time.sleep(0.05)
    print('done', hashlib.md5(b'end').hexdigest(), flush=True)

if __name__ == '__main__':
    main()
